// Package docs is poolnsd's documentation (the Markdown pages in this
// directory) and what keeps it true: the generated references and the
// tests that check the pages against the code.
//
// # Basics
//
// Each topic is one page; README.md here is the index. Two pages have
// parts generated from the code's own tables, between the markers
//
//	<!-- BEGIN GENERATED: NAME (make docs) -->
//	<!-- END GENERATED: NAME -->
//
// configuration.md from config.Options (what `poolnsd config --markdown`
// prints) and metrics.md from the metrics registry (metrics.Reference).
// `make docs` (or `go generate ./docs`) rewrites them; `go test ./docs`
// fails while a checked-in copy is stale, while a relative link or anchor
// of the README or a page does not resolve, and while the dig and nsupdate
// examples of the README's tour and of answers.md do not answer as shown
// against a real poolnsd on make run's defaults (its ports moved to free
// ones).
//
// # Caveats
//
// The anchors are GitHub's: a heading's text in lower case, without
// punctuation, spaces as hyphens, and -1, -2 … for repeats.
package docs
