package docs

// Extract returns the text between a section's markers in page.
func Extract(page []byte, name string) (string, error) {
	_, body, _, err := split(page, name)
	return string(body), err
}
