package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const goodSecret = "q5b0mQmKmFjV0o7D3QvB2m8Vt1p5xQ2Z3yQk9g0X1aE=" // 32 bytes

func TestTSIGKeys(t *testing.T) {
	file := `
tsig:
  - name: pe-key
    algorithm: hmac-sha256
    secret: "` + goodSecret + `"
    pools: [web, api.pool.example.]
  - name: admin-key.
    algorithm: HMAC-SHA512.
    secret: "` + goodSecret + `"
`
	c, _, err := load(t, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TSIG) != 2 {
		t.Fatalf("TSIG = %+v, want 2 keys", c.TSIG)
	}
	k := c.TSIG[0]
	if k.Name != "pe-key" || k.TSIGAlgorithm() != "hmac-sha256." || len(k.SecretBytes()) != 32 || !slices.Equal(k.Pools, []string{"web", "api.pool.example."}) {
		t.Errorf("key 0 = %+v (algorithm %s, %d secret bytes)", k, k.TSIGAlgorithm(), len(k.SecretBytes()))
	}
	if c.TSIG[1].TSIGAlgorithm() != "hmac-sha512." || c.TSIG[1].Pools != nil {
		t.Errorf("key 1 = %+v", c.TSIG[1])
	}
}

func TestTSIGErrors(t *testing.T) {
	key := func(fields string) string { return "tsig:\n  - " + strings.ReplaceAll(fields, ";", "\n    ") + "\n" }
	for _, c := range []struct {
		name, file string
		want       []string // lines, "F" stands for the file's path
	}{
		{"bad base64", key("name: k.;algorithm: hmac-sha256;secret: 'not*base64'"),
			[]string{`tsig[0].secret: not base64: illegal base64 data at input byte 3`}},
		{"short secret", key("name: k.;algorithm: hmac-sha256;secret: 'c2hvcnQ='"),
			[]string{`tsig[0].secret: 5 bytes; want at least 16 (tsig-keygen makes 32)`}},
		{"missing fields", key("pools: [web]"),
			[]string{
				`tsig[0].name: missing; want the key's name, e.g. pe-key.`,
				`tsig[0].algorithm: missing; want hmac-sha256 or hmac-sha512`,
				`tsig[0].secret: missing; want the shared secret in base64 (tsig-keygen prints one)`,
			}},
		{"old algorithm", key("name: k.;algorithm: hmac-md5;secret: " + goodSecret),
			[]string{`tsig[0].algorithm: unsupported algorithm "hmac-md5"; want hmac-sha256 or hmac-sha512`}},
		{"typo in a field", key("name: k.;algorithm: hmac-sha256;secrte: " + goodSecret),
			[]string{`F: unknown key "secrte" in tsig[0]; want name, algorithm, secret, pools (did you mean "secret"?)`}},
		{"not a list", "tsig:\n  name: k\n",
			[]string{`F: tsig: want a list of keys ({name, algorithm, secret, pools}), not a section`}},
		{"duplicate names", "tsig:\n  - {name: k., algorithm: hmac-sha256, secret: " + goodSecret + "}\n  - {name: K, algorithm: hmac-sha256, secret: " + goodSecret + "}\n",
			[]string{`tsig[1].name: "K" is already the name of tsig[0]`}},
		{"bad pool", key("name: k.;algorithm: hmac-sha256;secret: " + goodSecret + ";pools: ['a..b']"),
			[]string{`tsig[0].pools[0]: "a..b" is not a pool handle or name`}},
		{"lease bounds", "registration:\n  lease_min: 10m\n  lease_max: 1m\n",
			[]string{`registration.lease_min: 10m0s is above registration.lease_max (1m0s)`}},
		{"lease default outside", "registration:\n  lease_default: 2s\n",
			[]string{`registration.lease_default: 2s is outside registration.lease_min..lease_max (5s..24h0m0s)`}},
		{"lease not a duration", "registration:\n  lease_max: forever\n",
			[]string{`registration.lease_max: "forever" is not a duration, want e.g. 60s, 5m or 24h`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := loadErrors(t, c.file); !slices.Equal(got, c.want) {
				t.Errorf("errors\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestRegistrationKeys(t *testing.T) {
	c, _, err := load(t, "registration:\n  lease_default: 30s\n  max_per_key: 0\n", map[string]string{"POOLNSD_REGISTRATION_RATE": "500"}, "--registration.lease_max=1h")
	if err != nil {
		t.Fatal(err)
	}
	def, lo, hi := c.Leases()
	if def != 30*time.Second || lo != 5*time.Second || hi != time.Hour || c.Registration.MaxPerKey != 0 || c.Registration.Rate != 500 {
		t.Errorf("registration = %+v, leases %v %v %v", c.Registration, def, lo, hi)
	}
}
