//go:build !linux

package store

import (
	"errors"
	"os"
)

// aioSyncer is Linux's; elsewhere there is none and the log calls
// fdatasync itself.
type aioSyncer struct{}

func newAIOSyncer() *aioSyncer { return nil }

var errNoAIOSync = errors.New("aio fdsync unsupported")

func (a *aioSyncer) sync(*os.File) error { return errNoAIOSync }
func (a *aioSyncer) close()              {}
