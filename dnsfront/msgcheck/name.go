package msgcheck

// AppendPlainName appends the question name wire (wire form, as Check
// found it between Msg.QStart and the question's type) to dst in lower
// case presentation form ("web.pool.test."), and reports false when it is
// compressed or has a byte that presentation form escapes: such names are
// left to miekg/dns's unpacking.
func AppendPlainName(dst, wire []byte) ([]byte, bool) {
	start := len(dst)
	for i := 0; i < len(wire); {
		n := int(wire[i])
		if n == 0 {
			break
		}
		if n&0xC0 != 0 {
			return dst, false // a compression pointer in the question
		}
		for _, c := range wire[i+1 : i+1+n] {
			l := nameByte[c]
			if l == 0 {
				return dst, false
			}
			dst = append(dst, l)
		}
		dst = append(dst, '.')
		i += 1 + n
	}
	if len(dst) == start {
		dst = append(dst, '.')
	}
	return dst, true
}

// nameByte maps a byte of a label to itself in lower case, or to 0 when
// presentation form escapes it (miekg/dns escapes the same ones).
var nameByte = func() (t [256]byte) {
	for c := '!'; c <= '~'; c++ {
		t[c] = byte(c)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c + 'a' - 'A')
	}
	for _, c := range ".\\\"();@'$" {
		t[c] = 0
	}
	return t
}()

// Presentation returns a name of plain characters (one AppendPlainName
// takes) in presentation form, its letters' case as written.
func Presentation(wire []byte) string {
	out := make([]byte, 0, len(wire))
	for i := 0; i < len(wire) && wire[i] != 0; i += 1 + int(wire[i]) {
		out = append(out, wire[i+1:i+1+int(wire[i])]...)
		out = append(out, '.')
	}
	if len(out) == 0 {
		return "."
	}
	return string(out)
}
