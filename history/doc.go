// Package history keeps the recent past of one registrar, in memory and
// bounded, for the status page and the JSON API: per pool the counts of
// its elements (in the answers, up, down) and its health changes as time
// series, per element a health timeline (up, down, unknown, drained,
// forced down, reported, gone) with the reason of each change, the
// registrar's DNS query rate and answer latency, its peers (registrars of
// the ENRP cluster) and their recent events (takeovers, syncs).
//
// # Basics
//
// New returns a Recorder over Inputs (the handlespace view and whatever
// else is wired); the daemon calls Sample once per Config.Period (its
// driver, Run, does with a ticker) and Event for each peering event. An
// Answers, fed by the DNS front with each pool answer and its first
// element, gives each pool's answers per second and the shares of first
// places over the last 10 s and the last minute.
// History and Peers answer reads at any time. Every series is sampled at
// the fixed period into a ring of Config.Points (the short window, 15
// minutes at 1 s by default) and folded into a second ring of one point
// per Config.CoarseEvery samples (the long window, 24 hours of minutes by
// default): a point is the minimum of its samples for counts (a dip stays
// visible), the mean for rates and the sum for changes. A point with no
// sample (the daemon was busy or stopped) is null, not zero.
//
// Sample walks only the pools whose view changed since the last sample
// (the handlespace copies a pool on change, so an unchanged pool is the
// same *PoolView), and in them only the elements that changed
// (handlespace.DiffElements). With Inputs.Changed (a handlespace.Watch)
// it does not even look the other pools up: a sample costs the changes
// since the last one plus the pools with series (at most MaxPools), and
// the totals of all pools are kept as the pools change; timelines expire
// from a heap of what is due. With a stable handlespace an idle sample
// costs the same at ten pools or ten thousand. A change the history
// cannot see (a refresh) costs only the comparison of the element's two
// versions, and a long sample (a million elements' first walk, a second
// of a thousand registrations in a pool of a million) runs in pieces of
// about PieceBudget with Inputs.Turn between them. The diffs of the pools
// that changed and the walks of every element of a pool (its first
// sample, one that gets series), the long parts of a sample, are made
// before the sample takes the lock that History and Peers take: a reader
// waits for the sample's changes to the state only (and their turns: many
// state changes; a walk's timelines, at most Config.MaxElements), and
// sees the state before the sample or after it.
//
// # Caveats
//
// Memory is bounded by the configuration, not by the handlespace: at most
// Config.MaxPools pools have series (six series of 900 + 1 440 float32
// points, 56 kB a pool at the defaults, 14 MB for 256 pools) and at most
// Config.MaxElements elements have timelines (at most Config.MaxSpans
// past changes of about 80 bytes each, reasons clipped to 200 bytes: at
// worst about 25 MB for 10 000 elements that all flap, a few hundred
// bytes each when they do not) and answer snapshots (13 counts each);
// pools and elements beyond are counted as untracked in the replies. A pool that disappears keeps its series for
// the long window, an element that disappears shows as gone for the short
// one. The history is one registrar's and starts empty at each start: it
// is not stored and not shared with peers. Time comes from the caller
// (Sample's now), so tests drive it by hand.
package history
