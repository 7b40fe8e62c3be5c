//! numpy's float64 arithmetic, reproduced bit for bit so rows agree with the reference's.

/// numpy's pairwise summation (`umr_sum` on a contiguous 1-D float64 array), bit for bit.
pub fn numpy_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &a[i..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_sum(&a[..n2]) + numpy_sum(&a[n2..])
    }
}

/// `numpy.std(a)`: the population standard deviation (ddof=0), computed as numpy does.
pub fn numpy_std(a: &[f64]) -> f64 {
    let n = a.len() as f64;
    let mean = numpy_sum(a) / n;
    let squares: Vec<f64> = a.iter().map(|x| (x - mean) * (x - mean)).collect();
    (numpy_sum(&squares) / n).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_std_matches_known_values() {
        assert_eq!(numpy_std(&[1.0, 0.0]), 0.5);
        assert_eq!(numpy_std(&[0.5, 0.5, 0.5]), 0.0);
        // 20 values exercise the unrolled path: std of 0..20 is sqrt(33.25).
        let v: Vec<f64> = (0..20).map(f64::from).collect();
        assert!((numpy_std(&v) - 33.25f64.sqrt()).abs() < 1e-12);
        let v: Vec<f64> = (0..1000).map(|i| f64::from(i) * 0.1).collect();
        assert!((numpy_sum(&v) - 49950.0).abs() < 1e-6);
    }
}
