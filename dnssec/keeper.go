package dnssec

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// KeeperOptions configure a Keeper.
type KeeperOptions struct {
	// Dir is the keys directory (Load).
	Dir string
	// Signer configures the Keeper's signer (NewSigner); its Now, if set,
	// is also the time the keys are loaded at.
	Signer Options
	// Log receives a line per signed zone at each load, a warning per key
	// of a zone that is not served, and the errors of a failed reload.
	Log *slog.Logger
	// Served reports whether a zone (lower case, final dot) is served
	// here; nil: every zone is.
	Served func(zone string) bool
}

// A Keeper holds the signer of a serving daemon and loads its keys: at
// start (NewKeeper fails on a bad key), on Reload (SIGHUP) and when a
// key's time comes (Keys.NextEvent). A failed reload logs each problem
// and the last good keys keep signing.
type Keeper struct {
	opts   KeeperOptions
	signer *Signer

	mu     sync.Mutex // guards timer and closed, and serialises loads
	timer  *time.Timer
	closed bool
}

// NewKeeper loads the keys of o.Dir into a new signer and plans the next
// load. An error (one line per bad key file) means no Keeper: a zone must
// not go out unsigned by surprise.
func NewKeeper(o KeeperOptions) (*Keeper, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	k := &Keeper{opts: o, signer: NewSigner(o.Signer)}
	ks, err := Load(o.Dir, k.now())
	if err != nil {
		return nil, err
	}
	// Held: the timer that set starts may fire at once and Reload, which
	// reads and sets k.timer.
	k.mu.Lock()
	k.set(ks, "start")
	k.mu.Unlock()
	return k, nil
}

// Signer returns the signer the Keeper sets the keys of.
func (k *Keeper) Signer() *Signer { return k.signer }

func (k *Keeper) now() time.Time {
	if k.opts.Signer.Now != nil {
		return k.opts.Signer.Now()
	}
	return time.Now()
}

// set puts ks in use and plans the next load at its next key event. k.mu
// is held.
func (k *Keeper) set(ks *Keys, trigger string) {
	k.signer.SetKeys(ks)
	for _, z := range ks.Zones() {
		zk := ks.Zone(z)
		if k.opts.Served != nil && !k.opts.Served(z) {
			// A typo in a zone's name, or keys of a zone this registrar
			// no longer serves: they sign nothing.
			for _, key := range zk.Keys {
				k.opts.Log.Warn("DNSSEC key of a zone not served here: it signs nothing", "zone", z, "file", key.File, "trigger", trigger)
			}
			continue
		}
		var tags []string
		for _, key := range zk.Signers() {
			tags = append(tags, strconv.Itoa(int(key.Tag)))
		}
		k.opts.Log.Info("zone signed", "zone", z, "keys", len(zk.Published()), "signing", strings.Join(tags, ","), "trigger", trigger)
	}
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
	}
	if next := ks.NextEvent(); !next.IsZero() && !k.closed {
		k.timer = time.AfterFunc(next.Sub(k.now())+time.Second, func() { k.Reload("key timing") })
	}
}

// Reload loads the keys again; trigger says why, in the log. On error it
// logs one line per problem and the last good keys keep signing.
func (k *Keeper) Reload(trigger string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return
	}
	ks, err := Load(k.opts.Dir, k.now())
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			k.opts.Log.Error("DNSSEC keys not reloaded; signing with the last good ones", "err", line)
		}
		return
	}
	k.set(ks, trigger)
}

// Close stops the planned loads; the signer keeps its keys.
func (k *Keeper) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	if k.timer != nil {
		k.timer.Stop()
	}
}
