# frozen_string_literal: true

require_relative 'test_helper'

# :stale_ok reaches `svcdisco query` as --stale-ok, and exit 6 (a stale
# answer) returns the answer with svcdisco's warning instead of raising.
# The real outage (an ensemble down, chef-solo converging from the answer
# cache) is TestOutageDrill in examples/chef.
class StaleTest < Minitest::Test
  include TestHelper

  def test_stale_ok_flags
    args = ->(opts) { Svcdisco::QueryArgs.build('web', opts) }
    assert_equal %w[--stale-ok 1h], args.call(stale_ok: '1h').last(2)
    assert_equal %w[--stale-ok 3600s], args.call(stale_ok: 3600).last(2)
    assert_equal %w[--stale-ok 0s], args.call(stale_ok: false).last(2)
    refute_includes args.call({}), '--stale-ok'
  end

  # fake_svcdisco is a stand-in binary that prints its arguments as a
  # provider list and exits with code, the warning line on stderr.
  def fake_svcdisco(dir, code)
    path = File.join(dir, 'svcdisco')
    File.write(path, <<~SH)
      #!/bin/sh
      printf '[{"host":"%s"}]' "$*"
      echo 'svcdisco: stale answer for web from the answer cache, 5m0s old (fetched 2026-11-29T06:00:00Z): no server answered' >&2
      exit #{code}
    SH
    File.chmod(0o755, path)
    path
  end

  def test_exit_6_returns_the_answer_and_warns
    Dir.mktmpdir do |dir|
      with_env('SVCDISCO_BIN' => fake_svcdisco(dir, 6)) do
        before = Svcdisco.stale_warnings.size
        got = nil
        _, err = capture_io { got = Host.new.all_providers_for_service('web', stale_ok: '1h') }
        assert_equal 'query web -o json --stale-ok 1h', got.first['host']
        assert_match(/stale answer for web .* 5m0s old/, err)
        assert_equal before + 1, Svcdisco.stale_warnings.size
        assert_match(/no server answered/, Svcdisco.stale_warnings.last)
      end
    end
  end

  def test_other_exits_still_raise
    Dir.mktmpdir do |dir|
      with_env('SVCDISCO_BIN' => fake_svcdisco(dir, 4)) do
        assert_raises(Svcdisco::UnreachableError) { Host.new.all_providers_for_service('web', stale_ok: '1h') }
      end
    end
  end

  # NodeHost is a recipe: the library reads node['svcdisco'].
  class NodeHost < Host
    def initialize(attrs)
      super()
      @node = { 'svcdisco' => attrs }
    end

    attr_reader :node
  end

  def test_node_attribute_is_the_default
    Dir.mktmpdir do |dir|
      host = NodeHost.new('bin' => fake_svcdisco(dir, 0), 'stale_ok' => '2h', 'registry' => 'zk://127.0.0.1:1')
      assert_match(/--stale-ok 2h\z/, host.all_providers_for_service('web').first['host'])
      assert_match(/--stale-ok 30s\z/, host.all_providers_for_service('web', stale_ok: 30).first['host'])
      assert_match(/--stale-ok 0s\z/, host.all_providers_for_service('web', stale_ok: false).first['host'])
      host = NodeHost.new('bin' => fake_svcdisco(dir, 0), 'registry' => 'zk://127.0.0.1:1')
      refute_match(/--stale-ok/, host.all_providers_for_service('web').first['host'])
    end
  end
end
