package hstest

import "github.com/miekg/dns"

// FlagText writes a message's header flags as dig does.
func FlagText(m *dns.Msg) string {
	s := ""
	for _, f := range []struct {
		on   bool
		name string
	}{
		{m.Response, "qr"}, {m.Authoritative, "aa"}, {m.Truncated, "tc"}, {m.RecursionDesired, "rd"},
		{m.RecursionAvailable, "ra"}, {m.Zero, "z"}, {m.AuthenticatedData, "ad"}, {m.CheckingDisabled, "cd"},
	} {
		if f.on {
			if s != "" {
				s += " "
			}
			s += f.name
		}
	}
	return s
}
