package quant

// The scale searches of ggml's k-quant reference quantizers. They pick a
// sub-block scale (and min) by trying a few candidate grids and keeping the
// weighted least-squares best, which is why k-quants beat the plain
// max-scaled legacy types at the same bit width. Every arithmetic step is
// float32 in ggml's order; float32(...) around a product that is then
// added or subtracted keeps Go from fusing the two into one FMA rounding.

// groupMaxEps is ggml's GROUP_MAX_EPS: a group whose largest |x| is below
// it quantizes to zeros.
const groupMaxEps = 1e-15

// makeQxQuants is make_qx_quants with rmse_type 1 and no importance
// weights (the only form the reference quantizers use): symmetric levels
// L ∈ [0, 2·nmax) meaning l = L − nmax, weights w = x², and 19 candidate
// grids around iscale = −nmax/max. It returns the scale; x ≈ scale·l.
func makeQxQuants(x []float32, L []int8, nmax int) float32 {
	amax, mx := signedAbsMax(x)
	if amax < groupMaxEps {
		clear(L)
		return 0
	}
	fnmax := float32(nmax)
	iscale := -fnmax / mx
	sumlx, suml2 := qxSums(x, iscale, nmax, L)
	scale := float32(0)
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fnmax + float32(0.1*float32(is))) / mx
		sumlx, suml2 = qxSums(x, iscale, nmax, nil)
		if suml2 > 0 && sumlx*sumlx > best*suml2 {
			qxSums(x, iscale, nmax, L)
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

// qxSums rounds x on the grid iscale, returning the weighted Σw·x·l and
// Σw·l² (w = x²); with L non-nil it also stores the levels l + nmax.
func qxSums(x []float32, iscale float32, nmax int, L []int8) (sumlx, suml2 float32) {
	for i, v := range x {
		l := clampInt(nearestInt(iscale*v), -nmax, nmax-1)
		if L != nil {
			L[i] = int8(l + nmax)
		}
		w := v * v
		fl := float32(l)
		sumlx += float32(w * v * fl)
		suml2 += float32(w * fl * fl)
	}
	return sumlx, suml2
}

// makeQ3Quants is make_q3_quants with do_rmse: start on the grid
// −nmax/max, then up to five passes that move one level at a time when
// that raises (Σw·x·l)²/Σw·l² (w = x²). L gets l + nmax ∈ [0, 2·nmax).
func makeQ3Quants(x []float32, L []int8, nmax int) float32 {
	amax, mx := signedAbsMax(x)
	if amax < groupMaxEps {
		clear(L) // ggml leaves these at 0, not at nmax
		return 0
	}
	iscale := -float32(nmax) / mx
	var sumlx, suml2 float32
	for i, v := range x {
		l := clampInt(nearestInt(iscale*v), -nmax, nmax-1)
		L[i] = int8(l)
		w := v * v
		sumlx += float32(w * v * float32(l))
		suml2 += float32(w * float32(l) * float32(l))
	}
	for range 5 {
		changed := false
		for i, v := range x {
			w := v * v
			li := float32(L[i])
			slx := sumlx - float32(w*v*li)
			if !(slx > 0) {
				continue
			}
			sl2 := suml2 - float32(w*li*li)
			nl := clampInt(nearestInt(v*sl2/slx), -nmax, nmax-1)
			if nl == int(L[i]) {
				continue
			}
			fnl := float32(nl)
			slx += float32(w * v * fnl)
			sl2 += float32(w * fnl * fnl)
			if sl2 > 0 && slx*slx*suml2 > sumlx*sumlx*sl2 {
				L[i], sumlx, suml2 = int8(nl), slx, sl2
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	for i := range L {
		L[i] += int8(nmax)
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}

// qkx2 holds the knobs of make_qkx2_quants for one k-quant type.
type qkx2 struct {
	nmax   int     // levels are 0..nmax
	rmin   float32 // first candidate grid: (nmax + rmin)/(max − min)
	rdelta float32 // grid step between candidates
	nstep  int     // candidates beyond the first: nstep + 1 grids
	useMAD bool    // weigh |error| instead of error²
}

// makeQkx2Quants fits x ≈ scale·L − theMin with L ∈ [0, nmax] and
// theMin ≥ 0 (the min is never above zero), minimizing Σw·err over the
// candidate grids; each candidate is refit by weighted least squares.
// laux is scratch of len(x).
func (p qkx2) makeQuants(x, weights []float32, L, laux []uint8) (scale, theMin float32) {
	lo, hi := x[0], x[0]
	sumW := weights[0]
	sumX := sumW * x[0]
	for i := 1; i < len(x); i++ {
		if x[i] < lo {
			lo = x[i]
		}
		if x[i] > hi {
			hi = x[i]
		}
		sumW += weights[i]
		sumX += float32(weights[i] * x[i])
	}
	if lo > 0 {
		lo = 0
	}
	if hi == lo {
		clear(L)
		return 0, -lo
	}
	fnmax := float32(p.nmax)
	iscale := fnmax / (hi - lo)
	scale = 1 / iscale
	for i, v := range x {
		L[i] = uint8(clampInt(nearestInt(iscale*(v-lo)), 0, p.nmax))
	}
	bestErr := p.fitError(x, weights, L, scale, lo)
	if p.nstep < 1 {
		return scale, -lo
	}
	for is := 0; is <= p.nstep; is++ {
		iscale = (p.rmin + float32(p.rdelta*float32(is)) + fnmax) / (hi - lo)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := clampInt(nearestInt(iscale*(v-lo)), 0, p.nmax)
			laux[i] = uint8(l)
			w, fl := weights[i], float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(w * fl * fl)
			sumXL += float32(w * fl * v)
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if !(D > 0) {
			continue
		}
		thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
		thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
		if thisMin > 0 {
			thisMin = 0
			thisScale = sumXL / sumL2
		}
		if e := p.fitError(x, weights, laux, thisScale, thisMin); e < bestErr {
			copy(L, laux)
			bestErr, scale, lo = e, thisScale, thisMin
		}
	}
	return scale, -lo
}

// fitError is Σw·|scale·L + min − x| (MAD) or Σw·(…)².
func (p qkx2) fitError(x, weights []float32, L []uint8, scale, lo float32) float32 {
	var e float32
	for i, v := range x {
		diff := float32(scale*float32(L[i])) + lo - v
		if p.useMAD {
			diff = abs32(diff)
		} else {
			diff *= diff
		}
		e += float32(weights[i] * diff)
	}
	return e
}
