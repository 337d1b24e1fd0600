package history

import (
	"context"
	"time"
)

// Run samples every Config.Period until ctx ends, on the wall clock.
func (r *Recorder) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Period)
	defer t.Stop()
	r.Sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.Sample(now)
		}
	}
}
