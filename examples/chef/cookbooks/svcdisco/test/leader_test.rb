# frozen_string_literal: true

require_relative 'test_helper'

# leader_for must answer what `svcdisco leader GROUP -o json` answers, and
# nil when the group has no leader.
class LeaderTest < Minitest::Test
  include TestHelper

  def test_leader_for
    host = Host.new
    assert_nil host.leader_for('nobody-leads')

    contender = Running.new(['elect', 'sched', '--id', 's1', '--host', 'sched1.example.com', '--port', '7001', '--attr', 'zone=a'])
    contender.wait_line('"leader":true')
    want = svcdisco_json('leader', 'sched', '-o', 'json')
    got = host.leader_for('sched')
    assert_equal want, got
    assert_equal %w[s1 sched1.example.com 7001 a], [got['id'], got['host'], got['port'].to_s, got['attributes']['zone']]
    assert_equal got, host.svcdisco_leader_for(:sched)

    contender.stop
    assert_nil host.leader_for('sched')
  end

  def test_bad_group_is_a_usage_error
    assert_raises(Svcdisco::UsageError) { Host.new.leader_for('bad/group') }
  end
end
