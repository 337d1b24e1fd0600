package metered

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/regcommit"
)

// Backend counts the API's failure reports and admin changes in the
// metrics, around the backend that serves them.
type Backend struct {
	httpapi.Backend
	// M gets the counts (nil: none).
	M *metrics.Metrics
	// ID is this registrar, for /v1/status.
	ID uint32
}

var _ httpapi.Backend = Backend{}

// RegistrarID names this registrar in /v1/status.
func (b Backend) RegistrarID() uint32 { return b.ID }

// Report takes the report and counts its outcome (metrics.ReportViaAPI).
func (b Backend) Report(pool string, id uint32, from netip.Addr) (httpapi.ReportOutcome, error) {
	out, err := b.Backend.Report(pool, id, from)
	if o := ReportOutcome(out.Removed, out.Forwarded != 0, err); o != "" {
		b.M.FailureReport(metrics.ReportViaAPI, o)
	}
	return out, err
}

// ReportOutcome is the outcome label of a failure report that removed the
// element (or found it removed), was forwarded to its home, or failed with
// err; "" for a failure that is not the report's (the home unavailable).
func ReportOutcome(removed, forwarded bool, err error) string {
	switch {
	case errors.Is(err, httpapi.ErrRateLimited), errors.Is(err, monitor.ErrRateLimited):
		return metrics.ReportRateLimited
	case errors.Is(err, handlespace.ErrNoPool), errors.Is(err, handlespace.ErrNoZone), errors.Is(err, handlespace.ErrNoElement):
		return metrics.ReportUnknown
	case err != nil:
		return ""
	case forwarded:
		return metrics.ReportForwarded
	case removed:
		return metrics.ReportRemoved
	}
	return metrics.ReportCounted
}

// SetAdmin makes the change and counts it when it changed the element's
// state.
func (b Backend) SetAdmin(pool string, id uint32, a handlespace.Admin) error {
	var old handlespace.Admin
	if v := b.View(); v != nil {
		if pv := v.Pool(pool); pv != nil {
			if e := pv.Element(id); e != nil {
				old = e.Admin
			}
		}
	}
	err := b.Backend.SetAdmin(pool, id, a)
	if err == nil && old != a {
		b.M.AdminChange(a)
	}
	return err
}

// Registrar counts registrations, refreshes, deregistrations and
// refusals in the metrics, by source, around the committer that DNS UPDATE
// and the HTTP API submit to. (dnsfront.Updater and httpapi.Registrar are
// satisfied by it; the daemon checks that where it wires them.)
type Registrar struct {
	*regcommit.Committer
	// M gets the counts (nil: none).
	M *metrics.Metrics
}

var _ httpapi.Registrar = Registrar{}

// Submit submits req to the committer and counts what came of it.
func (r Registrar) Submit(ctx context.Context, req *regcommit.Request) (regcommit.Result, error) {
	res, err := r.Committer.Submit(ctx, req)
	src := metrics.SourceHTTP
	if strings.HasPrefix(req.Who.Owner, "tsig:") {
		src = metrics.SourceDNS
	}
	if err != nil {
		r.M.Rejected(src, RejectCause(err))
		return res, err
	}
	for _, d := range res.Done {
		switch {
		case d.Removed:
			r.M.Deregistered(src)
		case d.Elem != nil:
			r.M.Registered(src, !d.Created)
		}
	}
	return res, err
}

// RejectCause classifies an error of the committer for
// poolnsd_registration_rejections_total.
func RejectCause(err error) metrics.Cause {
	switch {
	case errors.Is(err, handlespace.ErrInconsistentPolicy):
		return metrics.CausePolicy
	case errors.Is(err, handlespace.ErrLabelInUse), errors.Is(err, handlespace.ErrNameTaken):
		return metrics.CauseConflict
	}
	switch regcommit.CodeOf(err) {
	case regcommit.Invalid:
		return metrics.CauseMalformed
	case regcommit.NotFound:
		return metrics.CauseNoZone
	case regcommit.Unavailable:
		return metrics.CauseStore
	case regcommit.Refused:
		msg := err.Error()
		switch {
		case strings.Contains(msg, "most registered elements allowed"), strings.Contains(msg, "most elements allowed"):
			return metrics.CauseLimit
		case strings.Contains(msg, "defined by a zone file"), strings.Contains(msg, " belongs to "),
			strings.Contains(msg, " is taken by "), strings.Contains(msg, "no free identifier"):
			return metrics.CauseConflict
		}
		return metrics.CauseForbidden
	}
	return metrics.CauseOther
}
