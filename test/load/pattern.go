package main

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
)

// Object bodies are a fixed pseudo-random sequence of patternPeriod bytes,
// repeated, starting at an offset derived from the key. A reader can then
// check every byte it receives without the whole object in memory, and a
// body served for the wrong key fails the check.
const patternPeriod = 65521 // prime, so that no power-of-two read size lines up with it

// patternTable holds the sequence twice, so that any window of up to
// patternPeriod bytes is one contiguous slice.
var patternTable = func() []byte {
	rng := rand.New(rand.NewPCG(0x5eed, 0x10ad))
	b := make([]byte, 2*patternPeriod)
	for i := range patternPeriod {
		b[i] = byte(rng.Uint32())
	}
	copy(b[patternPeriod:], b[:patternPeriod])
	return b
}()

// patternStart returns the sequence offset at which key's body starts.
func patternStart(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % patternPeriod)
}

// patternBytes returns the whole body of key for a small object.
func patternBytes(key string, size int) []byte {
	out := make([]byte, 0, size)
	pos := patternStart(key)
	for len(out) < size {
		n := min(size-len(out), patternPeriod)
		out = append(out, patternTable[pos:pos+n]...)
		pos = (pos + n) % patternPeriod
	}
	return out
}

// patternReader is an io.ReadSeeker over the body of one key, generated on
// the fly.
type patternReader struct {
	start int
	size  int64
	off   int64
}

func newPatternReader(key string, size int64) *patternReader {
	return &patternReader{start: patternStart(key), size: size}
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.off < r.size {
		pos := int((int64(r.start) + r.off) % patternPeriod)
		m := copy(p[n:], patternTable[pos:pos+int(min(int64(patternPeriod), r.size-r.off))])
		n += m
		r.off += int64(m)
	}
	return n, nil
}

func (r *patternReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, fmt.Errorf("seeking with whence %d: not supported", whence)
	}
	if offset < 0 {
		return 0, errors.New("seeking before the start of the body")
	}
	r.off = offset
	return offset, nil
}

// patternChecker is an io.Writer that compares what it is given with the
// body of one key. Write returns an error at the first byte that differs.
type patternChecker struct {
	start int
	off   int64
}

func newPatternChecker(key string) *patternChecker {
	return &patternChecker{start: patternStart(key)}
}

func (c *patternChecker) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		pos := int((int64(c.start) + c.off) % patternPeriod)
		n := min(len(p)-done, patternPeriod)
		got, want := p[done:done+n], patternTable[pos:pos+n]
		if !bytes.Equal(got, want) {
			i := 0
			for got[i] == want[i] {
				i++
			}
			return done + i, fmt.Errorf("body differs from the stored object at byte %d", c.off+int64(i))
		}
		done += n
		c.off += int64(n)
	}
	return done, nil
}
