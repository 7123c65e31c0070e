package supervisor

// Hooks for the tests in package supervisor_test.

// PauseLeases stops renewing this instance's leases, as a process that
// hangs or is cut off from the database would: everything else goes on.
func (s *Supervisor) PauseLeases() { s.cancelTimer("", timerLease) }

// WaitTakeovers waits until the sessions of the accounts taken over so far
// have been asked to connect.
func (s *Supervisor) WaitTakeovers() { s.lease.takeovers.Wait() }

// WaitBackground waits for the supervisor's goroutines running now (a lost
// lease's session stop, restores); call it while no timer can fire.
func (s *Supervisor) WaitBackground() { s.wg.Wait() }
