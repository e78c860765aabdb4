package main

import (
	"math/bits"
	"time"
)

// histogram records latencies in nanoseconds in log-linear buckets, as an
// HDR histogram does: values below 256 ns are exact and every larger value
// falls in a bucket 1/128 of its power of two wide, so any quantile is
// within 0.4 % of the true value. Its size is fixed (7,424 counters, 58 KiB)
// whatever the number of requests, so a long run cannot grow memory. It is
// not safe for concurrent use: each load worker keeps its own and they are
// merged at the end.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    uint64
	max    uint64
}

const (
	histSubBits = 8 // 256 sub-buckets per power of two, the top half used
	histSub     = 1 << histSubBits
	histBuckets = (64-histSubBits+1)*(histSub/2) + histSub/2
)

// bucketOf is the index of the bucket holding v.
func bucketOf(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits // v>>shift is in [128, 255]
	return shift*(histSub/2) + int(v>>shift)
}

// bucketRange is the smallest and largest value bucket i holds.
func bucketRange(i int) (lo, hi uint64) {
	if i < histSub {
		return uint64(i), uint64(i)
	}
	shift := i/(histSub/2) - 1
	m := uint64(i - shift*(histSub/2))
	return m << shift, (m+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	v := uint64(d)
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile is the value below or at which a fraction q of the recorded
// values lie (the middle of its bucket), 0 when nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			return time.Duration(min(lo+(hi-lo)/2, h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}
