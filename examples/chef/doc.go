// Package chef holds the tests of the Chef cookbook in
// examples/chef/cookbooks/svcdisco, run by `make test` against the real
// svcdisco binary and a real ZooKeeper, which they build and start:
//
//   - converges by a real Chef Infra Client (chef-solo from PATH, else
//     ../shared/chef/chef-solo beside the project) of the README's examples,
//     the cookbook's recipes and the fixtures in testdata/ (an ironfan-style
//     consumer cookbook, two Chef environments);
//   - the cookbook's plain-Ruby minitest suite for the library's logic.
package chef
