//! Cutting a byte stream into the pieces a socket might deliver, for the
//! framers' tests: both must decode the same frames however a stream is cut.

use proptest::sample::Index;

/// `bytes` cut at the points `cuts` pick (in any order, repeats allowed).
pub fn at_cuts<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut prev = 0;
    for p in points {
        chunks.push(&bytes[prev..p]);
        prev = p;
    }
    chunks.push(&bytes[prev..]);
    chunks
}
