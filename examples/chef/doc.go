// Package chef holds the tests of the Chef cookbook in
// examples/chef/cookbooks/svcdisco. Chef itself is not needed: the
// cookbook's library and templates run under plain Ruby (minitest, ERB)
// against the real svcdisco binary and a real ZooKeeper, which these Go
// tests build and start, so `make test` covers the cookbook.
package chef
