package sample

import "math"

// expNeg is exp(x) for x ≤ 0, the only range sampling needs (logits minus
// their maximum). It is about three times faster than math.Exp on float64,
// within 3e-7 relative error of it (expf_test.go checks this against
// math.Exp, the slow reference), and small enough for the compiler to
// inline into the vocabulary-wide loops (keep it that way: cost ≤ 80 in
// go build -gcflags=-m=2). Results below the smallest normal float32
// (x < -87.33) are flushed to 0: such a token weighs less than 1e-38 of the
// most likely one, and its exact weight cannot change a draw.
func expNeg(x float32) float32 {
	if !(x >= -87.33) { // also catches NaN and -Inf
		return 0
	}
	// e^x = 2^t with t = x·log2(e) = n + f, |f| ≤ 1/2. t is formed in
	// float64 because float32 would lose f's low bits for large |x|;
	// adding and subtracting 1.5·2⁵² rounds t to the integer n.
	t := float64(x) * math.Log2E
	n := (t + 0x1.8p52) - 0x1.8p52
	return exp2Frac(float32(t-n)) * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// exp2Frac is 2^f for |f| ≤ 1/2: the Taylor series of e^(f·ln2) to degree
// 6, whose truncation error at |f| = 1/2 is below float32's half ulp.
func exp2Frac(f float32) float32 {
	return (((((f*1.5403530393381608e-4+1.3333558146428443e-3)*f+
		9.618129107628477e-3)*f+5.550410866482158e-2)*f+
		0.2402265069591007)*f+0.6931471805599453)*f + 1
}
