// Command gen rewrites the generated sections of poolnsd's documentation
// (docs/configuration.md from the configuration table, docs/metrics.md
// from the metrics registry). Run it as `make docs` or `go generate
// ./docs`; `go test ./docs` fails while a page is stale.
//
//	go run ./docs/gen [-dir DIR]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/poolnsd/poolnsd/docs"
)

func main() {
	dir := flag.String("dir", ".", "the docs directory")
	flag.Parse()
	changed, err := docs.Update(*dir)
	for _, p := range changed {
		fmt.Println("updated", p)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "docs/gen:", err)
		os.Exit(1)
	}
}
