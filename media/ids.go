package media

import (
	"crypto/rand"

	"github.com/warbler-im/warbler/mxcore"
)

// mediaIDLength gives 24 characters of a 62-letter alphabet, about 143
// bits: media IDs are unguessable, which is all that protects media on
// the unauthenticated legacy endpoints.
const mediaIDLength = 24

// maxMediaIDLength bounds IDs of other servers' media, which we only check.
const maxMediaIDLength = 255

const mediaIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newMediaID returns a fresh random media ID.
func newMediaID() string { return randomString(mediaIDLength) }

func randomString(n int) string {
	out := make([]byte, n)
	buf := make([]byte, n*2)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		for _, b := range buf {
			// 248 is the largest multiple of 62 below 256: rejecting the
			// rest keeps every letter equally likely.
			if b >= 248 || i == n {
				continue
			}
			out[i] = mediaIDAlphabet[int(b)%len(mediaIDAlphabet)]
			i++
		}
	}
	return string(out)
}

// validMediaID applies the spec's rule for the media-id part of an mxc://
// URI: only A-Z, a-z, 0-9, '_' and '-'. The allow-list is what keeps a
// media ID from ever naming a path.
func validMediaID(id string) bool {
	if id == "" || len(id) > maxMediaIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// validServerName is the spec's other mxc:// sanitising rule.
func validServerName(name string) bool { return mxcore.ValidServerName(name) }

func mxcURI(serverName, mediaID string) string { return "mxc://" + serverName + "/" + mediaID }
