package paimeng

import "crypto/rand"

// jobIDAlphabet leaves out look-alike characters (0, 1, i, l, o).
const jobIDAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// NewJobID returns a short unguessable job id: 10 characters from
// jobIDAlphabet (about 49 bits), each equally likely.
func NewJobID() string {
	const n = 10
	// The largest multiple of len(jobIDAlphabet) under 256; larger bytes
	// are dropped so no character is favoured.
	const maxByte = 256 - 256%len(jobIDAlphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf) // never fails; see crypto/rand.Read
		for _, b := range buf {
			if int(b) < maxByte && len(out) < n {
				out = append(out, jobIDAlphabet[b%byte(len(jobIDAlphabet))])
			}
		}
	}
	return string(out)
}
