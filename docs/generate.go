package docs

//go:generate go run ./gen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/metrics"
)

// Section is a part of a page generated from the code.
type Section struct {
	// Page is the page's file name in this directory: "metrics.md".
	Page string
	// Name is the section's name in its markers: "metrics".
	Name string
	// Generate returns the section's text.
	Generate func() (string, error)
}

// Sections are every generated part of the pages.
func Sections() []Section {
	return []Section{
		{Page: "configuration.md", Name: "config", Generate: func() (string, error) {
			var b strings.Builder
			err := config.WriteMarkdown(&b)
			return b.String(), err
		}},
		{Page: "metrics.md", Name: "metrics", Generate: func() (string, error) {
			var b strings.Builder
			err := metrics.WriteMarkdown(&b)
			return b.String(), err
		}},
	}
}

// Markers around a generated section.
func beginMarker(name string) string {
	return "<!-- BEGIN GENERATED: " + name + " (make docs) -->\n"
}
func endMarker(name string) string { return "<!-- END GENERATED: " + name + " -->\n" }

// ErrNoMarkers: a page lacks a section's markers, or has them out of order.
var ErrNoMarkers = errors.New("docs: generated section markers missing")

// Splice returns page with the text between a section's markers replaced
// by body.
func Splice(page []byte, name, body string) ([]byte, error) {
	before, _, after, err := split(page, name)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(body)
	b.Write(after)
	return b.Bytes(), nil
}

// split cuts page into the part up to and with the begin marker, the
// body, and the part from the end marker on.
func split(page []byte, name string) (before, body, after []byte, err error) {
	begin, end := []byte(beginMarker(name)), []byte(endMarker(name))
	i := bytes.Index(page, begin)
	j := bytes.Index(page, end)
	if i < 0 || j < i+len(begin) {
		return nil, nil, nil, fmt.Errorf("%w: want %q and %q", ErrNoMarkers, strings.TrimSpace(string(begin)), strings.TrimSpace(string(end)))
	}
	k := i + len(begin)
	return page[:k], page[k:j], page[j:], nil
}

// Update rewrites the generated sections of the pages in dir (this
// directory) and returns the pages it changed.
func Update(dir string) ([]string, error) {
	var changed []string
	for _, s := range Sections() {
		path := filepath.Join(dir, s.Page)
		page, err := os.ReadFile(path)
		if err != nil {
			return changed, err
		}
		body, err := s.Generate()
		if err != nil {
			return changed, fmt.Errorf("%s: %s: %w", path, s.Name, err)
		}
		out, err := Splice(page, s.Name, body)
		if err != nil {
			return changed, fmt.Errorf("%s: %w", path, err)
		}
		if bytes.Equal(out, page) {
			continue
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			return changed, err
		}
		changed = append(changed, path)
	}
	return changed, nil
}
