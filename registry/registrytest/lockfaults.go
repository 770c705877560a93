package registrytest

import "testing"

func (s *suite) testLockNeverTwoHolders(t *testing.T) {}
