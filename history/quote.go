package history

import (
	"strconv"
	"unicode/utf8"
)

// MaxQuoted bounds how many bytes of one piece of input (a line, a value,
// a key, a token) a message shows. Inputs can be huge (a 50 MB value), and
// an error or a reason is one line for a person: every message that quotes
// input goes through Quote or Clip.
const MaxQuoted = 200

// Quote returns s quoted like strconv.Quote, after cutting it to its first
// MaxQuoted bytes (at a rune boundary). A cut string is followed by "..."
// and its full length: "xxxx"... (52428800 bytes).
func Quote(s string) string {
	head, cut := clipped(s)
	q := strconv.Quote(head)
	if cut {
		q += "... (" + strconv.Itoa(len(s)) + " bytes)"
	}
	return q
}

// Clip returns s cut to its first MaxQuoted bytes (at a rune boundary),
// followed by "..." and its full length when it was cut. It is for text
// that is already a rendering, such as a Value's String or EDN text.
func Clip(s string) string {
	head, cut := clipped(s)
	if cut {
		return head + "... (" + strconv.Itoa(len(s)) + " bytes)"
	}
	return head
}

// clipped returns the first MaxQuoted bytes of s, shortened to end at a
// rune boundary, and whether anything was cut.
func clipped(s string) (string, bool) {
	if len(s) <= MaxQuoted {
		return s, false
	}
	end := MaxQuoted
	for n := 1; n < utf8.UTFMax && !utf8.RuneStart(s[end]); n++ {
		end--
	}
	return s[:end], true
}
