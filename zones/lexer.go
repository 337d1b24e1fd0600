package zones

import "strings"

// token is one field of a zone file entry.
type token struct {
	raw    string // as written, quotes and escapes kept: what miekg/dns reads
	val    string // quotes removed, escapes resolved: what the pool keys read
	quoted bool   // the token has a quoted part
	pos    pos
}

// posOf returns the position of byte i of t.val in the file: quotes and
// escapes make val shorter than raw.
func (t token) posOf(i int) pos {
	v := 0
	for r := 0; r < len(t.raw); {
		c := t.raw[r]
		if c == '"' {
			r++
			continue
		}
		if v == i {
			return t.pos.at(r)
		}
		switch {
		case c == '\\' && r+1 < len(t.raw) && isDigit(t.raw[r+1]):
			r += 4
		case c == '\\':
			r += 2
		default:
			r++
		}
		v++
	}
	return t.pos.at(len(t.raw))
}

// entry is one logical line of a zone file: a physical line, or several
// joined by parentheses, without comments.
type entry struct {
	toks []token
	// blank reports that the line starts with white space: the owner
	// field is empty and the previous owner applies.
	blank bool
}

// lexer splits a zone file into entries. It follows RFC 1035 §5.1:
// fields are separated by white space; ";" starts a comment; "(" and ")"
// join lines; "\X" and "\DDD" escape a character; a quoted string is one
// field (and may be part of a larger one, as in key="a b"). Use it as an
// iterator: for lx.Next() { lx.Entry() }; then lx.Err().
type lexer struct {
	src  string
	file string
	off  int
	line int
	col  int // of src[off], 1-based

	ent entry
	err *Error
}

func newLexer(src, file string) *lexer {
	return &lexer{src: src, file: file, line: 1, col: 1}
}

// Err returns the error that stopped Next, or nil at the end of the file.
func (lx *lexer) Err() *Error { return lx.err }

// Entry returns the entry that the last Next found. It stays valid until
// the next call of Next.
func (lx *lexer) Entry() entry { return lx.ent }

// eofPos is the position just past the last line of the file, for
// problems found at the end.
func (lx *lexer) eofPos() pos {
	line := lx.line
	if lx.col == 1 && line > 1 {
		line-- // the file ends with a newline: its last line
	}
	return pos{lx.file, line, 0}
}

func (lx *lexer) here() pos { return pos{lx.file, lx.line, lx.col} }

func (lx *lexer) advance() {
	if lx.src[lx.off] == '\n' {
		lx.line++
		lx.col = 1
	} else {
		lx.col++
	}
	lx.off++
}

func (lx *lexer) fail(p pos, format string, args ...any) bool {
	lx.err = errf(p, format, args...)
	lx.ent = entry{}
	return false
}

// Next finds the next entry that has at least one field. It returns false
// at the end of the file or at the first error.
func (lx *lexer) Next() bool {
	if lx.err != nil {
		return false
	}
	lx.ent = entry{toks: lx.ent.toks[:0]}
	var open pos // of the unclosed "(", if inParens
	inParens := false
	startOfLine := lx.col == 1
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		switch c {
		case '\n':
			lx.advance()
			if !inParens {
				if len(lx.ent.toks) > 0 {
					return true
				}
				startOfLine, lx.ent.blank = true, false
				continue
			}
		case ' ', '\t', '\r':
			if startOfLine && len(lx.ent.toks) == 0 && (c == ' ' || c == '\t') {
				lx.ent.blank = true
			}
			lx.advance()
		case ';':
			for lx.off < len(lx.src) && lx.src[lx.off] != '\n' {
				lx.advance()
			}
		case '(':
			if inParens {
				return lx.fail(lx.here(), "nested \"(\"; want one level of parentheses (the first opens at line %d)", open.line)
			}
			inParens, open = true, lx.here()
			lx.advance()
		case ')':
			if !inParens {
				return lx.fail(lx.here(), "unbalanced \")\"; want a \"(\" before it")
			}
			inParens = false
			lx.advance()
		default:
			if !lx.field() {
				return false
			}
		}
		if c != '\n' {
			startOfLine = false
		}
	}
	if inParens {
		return lx.fail(open, "unclosed \"(\"; want a \")\" to end the entry")
	}
	return len(lx.ent.toks) > 0
}

// field reads one field starting at lx.off.
func (lx *lexer) field() bool {
	t := token{pos: lx.here()}
	start := lx.off
	var val strings.Builder
	inQuote := false
	var quoteAt pos
loop:
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		switch {
		case c == '\\':
			at, atOff := lx.here(), lx.off
			lx.advance()
			if lx.off >= len(lx.src) || lx.src[lx.off] == '\n' {
				return lx.fail(at, "\"\\\" at the end of a line; want an escaped character after it")
			}
			if isDigit(lx.src[lx.off]) {
				n := 0
				for i := 0; i < 3; i++ {
					if lx.off >= len(lx.src) || !isDigit(lx.src[lx.off]) {
						return lx.fail(at, "bad escape %q; want \\DDD with three decimal digits or \\ and one character", lx.src[atOff:lx.off])
					}
					n = n*10 + int(lx.src[lx.off]-'0')
					lx.advance()
				}
				if n > 255 {
					return lx.fail(at, "bad escape %q; want \\DDD with DDD at most 255", lx.src[atOff:lx.off])
				}
				val.WriteByte(byte(n))
				continue
			}
			val.WriteByte(lx.src[lx.off])
			lx.advance()
		case c == '"':
			if !inQuote {
				quoteAt = lx.here()
			}
			inQuote = !inQuote
			t.quoted = true
			lx.advance()
		case c == '\n':
			if inQuote {
				return lx.fail(quoteAt, "unterminated quoted string; want a closing \" on the same line")
			}
			break loop
		case inQuote:
			val.WriteByte(c)
			lx.advance()
		case c == ' ' || c == '\t' || c == '\r' || c == ';' || c == '(' || c == ')':
			break loop
		default:
			val.WriteByte(c)
			lx.advance()
		}
	}
	if inQuote {
		return lx.fail(quoteAt, "unterminated quoted string; want a closing \" on the same line")
	}
	t.raw = lx.src[start:lx.off]
	t.val = val.String()
	lx.ent.toks = append(lx.ent.toks, t)
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
