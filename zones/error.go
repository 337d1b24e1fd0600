package zones

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is one problem in a zone file. Its text is
//
//	FILE:LINE:COL: what is wrong; what was expected
//
// with COL left out when the column is not known and LINE left out for
// problems with a file as a whole (one that cannot be read). Every problem
// with a file that Parse, LoadDir and LoadPaths report is an *Error; for
// several files they are joined with errors.Join, and errors.As finds
// them. (Only "no *.zone files in DIR" and a call of LoadPaths without
// paths are plain errors: they have no file to name.)
type Error struct {
	File string // as the caller named it: NAME for Parse, DIR/NAME for LoadDir
	Line int    // 1-based; 0 for the file as a whole
	Col  int    // 1-based byte column; 0 when not known
	Msg  string // what is wrong; what was expected
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Col))
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// pos is a position in a zone file. Every message about a file is built
// from one by errf, the only place that formats positions.
type pos struct {
	file      string // display name
	line, col int
}

// errf returns the error at p. format should read "what is wrong; what
// was expected" and quote user text with %q so that a message stays on one
// line.
func errf(p pos, format string, args ...any) *Error {
	return &Error{File: p.file, Line: p.line, Col: p.col, Msg: oneLine.Replace(fmt.Sprintf(format, args...))}
}

// oneLine escapes the line breaks that a message may quote from the file
// (in a token, or in miekg/dns's error about one), so that every error is
// one line of the log.
var oneLine = strings.NewReplacer("\r", `\r`, "\n", `\n`)

// at returns p moved n bytes to the right on its line: the column of a
// value inside a token.
func (p pos) at(n int) pos {
	if p.col > 0 {
		p.col += n
	}
	return p
}

// ref renders p for messages that point at another place: "line 7" in
// the same file, "inc/web.inc:7" in another.
func (p pos) ref(from string) string {
	if p.file == from {
		return "line " + strconv.Itoa(p.line)
	}
	return p.file + ":" + strconv.Itoa(p.line)
}
