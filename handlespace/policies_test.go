package handlespace_test

// The policies register themselves with package handlespace when package
// policy is linked in. Package policy imports handlespace, so the
// package's own tests cannot import it; this external test file does, and
// so the policies are there for every test of the package (they run in one
// binary).
import _ "github.com/poolnsd/poolnsd/handlespace/policy"
