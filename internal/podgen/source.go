package podgen

import "hash/fnv"

// source turns fuzz input into choices: it reads the input byte by byte
// and, once it is used up, continues with a pseudo-random sequence seeded
// by the whole input, so short inputs still give varied documents and
// every input gives the same document on every run.
type source struct {
	data  []byte
	pos   int
	state uint64
}

func newSource(data []byte) *source {
	h := fnv.New64a()
	_, _ = h.Write(data)
	return &source{data: data, state: h.Sum64()}
}

func (s *source) byte() byte {
	if s.pos < len(s.data) {
		b := s.data[s.pos]
		s.pos++
		return b
	}
	// splitmix64
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return byte(z ^ (z >> 31))
}

// intn returns a choice in [0, n); 0 when n <= 1.
func (s *source) intn(n int) int {
	if n <= 1 {
		return 0
	}
	if n <= 256 {
		return int(s.byte()) % n
	}
	return (int(s.byte())<<8 | int(s.byte())) % n
}

// chance returns true with probability about pct percent.
func (s *source) chance(pct int) bool { return s.intn(100) < pct }

func (s *source) pick(xs []string) string { return xs[s.intn(len(xs))] }
