# frozen_string_literal: true

require_relative 'test_helper'
require 'time'

# all_providers_for_service and provider_for_service must answer exactly
# what `svcdisco query -o json` answers, for every option.
class DiscoveryTest < Minitest::Test
  include TestHelper

  # Three providers of "web", the first registered GAP seconds before the
  # others (so :within_last can fall between them), shared by the tests.
  GAP = 2.5
  def self.web
    @web ||= begin
      h = Object.new.extend(TestHelper)
      h.register('web', 8080, 'web1.example.com', '--address', '10.0.0.1', '--attr', 'zone=a', '--attr', 'version=1.4.1')
      sleep GAP
      h.register('web', 8081, 'web2.example.com', '--address', '10.0.0.2', '--attr', 'zone=b', '--attr', 'version=1.4.2',
                 '--tag', 'v2')
      h.register('web', 8082, 'web3.example.com', '--address', '10.0.0.3', '--attr', 'zone=a', '--attr', 'version=1.4.2',
                 '--tag', 'v2', '--tag', 'primary')
      true
    end
  end

  def setup
    self.class.web
    @host = Host.new
  end

  def query(*args)
    svcdisco_json('query', *args, '-o', 'json')
  end

  def test_all_providers_oldest_first
    got = @host.all_providers_for_service('web')
    assert_equal query('web'), got
    assert_equal %w[web1.example.com web2.example.com web3.example.com], got.map { |p| p['host'] }
    assert_equal got.map { |p| Time.iso8601(p['timestamp']) }.sort, got.map { |p| Time.iso8601(p['timestamp']) }
    assert_equal({ 'zone' => 'a', 'version' => '1.4.1' }, got.first['attributes'])
  end

  def test_since
    second = query('web')[1]['timestamp']
    t = Time.iso8601(second)
    want = query('web', '--since', second)
    assert_equal %w[web2.example.com web3.example.com], want.map { |p| p['host'] }
    assert_equal want, @host.all_providers_for_service('web', since: t)
    assert_equal want, @host.all_providers_for_service('web', since: second)
    # Epoch seconds, as ironfan took them: whole seconds, so compare with
    # the binary given the same instant.
    epoch = t.to_i
    assert_equal query('web', '--since', Time.at(epoch).utc.iso8601), @host.all_providers_for_service('web', since: epoch)
  end

  def test_within_last
    ps = query('web')
    now = Time.now
    # Midway between the first provider's age and the second's: GAP/2
    # seconds of slack either side.
    within = ((now - Time.iso8601(ps[0]['timestamp'])) + (now - Time.iso8601(ps[1]['timestamp']))) / 2
    got = @host.all_providers_for_service('web', within_last: within.round(3))
    assert_equal query('web', '--within-last', "#{within.round(3)}s"), got
    assert_equal %w[web2.example.com web3.example.com], got.map { |p| p['host'] }
    ms = (within * 1000).round
    assert_equal query('web', '--within-last', "#{ms}ms"), @host.all_providers_for_service('web', within_last: "#{ms}ms")
    assert_equal query('web'), @host.all_providers_for_service('web', within_last: '1h')
  end

  def test_where
    got = @host.all_providers_for_service('web', where: { 'zone' => 'a' })
    assert_equal query('web', '--where', 'zone=a'), got
    assert_equal %w[web1.example.com web3.example.com], got.map { |p| p['host'] }
    got = @host.all_providers_for_service('web', where: { 'version!' => '1.4.1', zone: 'b' })
    assert_equal query('web', '--where', 'version!=1.4.1', '--where', 'zone=b'), got
    assert_equal %w[web2.example.com], got.map { |p| p['host'] }
    assert_equal query('web', '--where', 'zone=a'), @host.all_providers_for_service('web', service_filters: { zone: 'a' })
  end

  def test_tags
    got = @host.all_providers_for_service('web', tags: 'v2')
    assert_equal query('web', '--tag', 'v2'), got
    assert_equal %w[web2.example.com web3.example.com], got.map { |p| p['host'] }
    got = @host.all_providers_for_service('web', tags: %w[v2 primary])
    assert_equal %w[web3.example.com], got.map { |p| p['host'] }
    assert_equal %w[v2 primary], got.first['tags']
    assert_equal [], query('web').first['tags']
  end

  def test_at_least_met
    assert_equal query('web', '--at-least', '3'), @host.all_providers_for_service('web', at_least: 3)
  end

  def test_at_least_unmet_raises_with_svcdisco_message
    _, err, code = svcdisco('query', 'web', '--at-least', '4', '-o', 'json')
    assert_equal 3, code
    e = assert_raises(Svcdisco::NotEnoughProvidersError) { @host.all_providers_for_service('web', at_least: 4) }
    assert_equal last_line(err), e.message
    assert_equal 3, e.exit_status
    assert_match(/3 provider\(s\) found, at least 4 required/, e.message)
    e = assert_raises(Svcdisco::NotEnoughProvidersError) { @host.provider_for_service('nobody', at_least: 1, wait: 0.2) }
    assert_match(/service nobody: 0 provider\(s\) found, at least 1 required \(waited 200ms\)/, e.message)
  end

  def test_wait_sees_a_provider_that_comes_later
    waiter = Thread.new { @host.all_providers_for_service('late', at_least: 1, wait: 30) }
    sleep 0.5 # let the query start watching; the result does not depend on it
    register('late', 9000, 'late1.example.com')
    got = waiter.value
    assert_equal query('late'), got
    assert_equal ['late1.example.com'], got.map { |p| p['host'] }
  end

  def test_provider_for_service_is_newest
    all = query('web')
    assert_equal all.last, @host.provider_for_service('web')
    assert_equal query('web', '--latest'), [@host.provider_for_service('web')]
    assert_equal all[2], @host.provider_for_service('web', where: { zone: 'a' })
    assert_nil @host.provider_for_service('nobody')
    assert_equal [], @host.all_providers_for_service('nobody')
  end

  def test_unreachable_raises_with_svcdisco_message
    env = { 'SVCDISCO_REGISTRY' => 'zk://127.0.0.1:1', 'SVCDISCO_TIMEOUT' => '1s' }
    _, err, code = svcdisco('query', 'web', '-o', 'json', env: env)
    assert_equal 4, code
    with_env(env) do
      e = assert_raises(Svcdisco::UnreachableError) { @host.all_providers_for_service('web') }
      assert_equal last_line(err), e.message
      assert_equal 4, e.exit_status
      assert_match(/127\.0\.0\.1:1/, e.message)
    end
  end

  def test_deadline_kills_svcdisco
    env = { 'SVCDISCO_REGISTRY' => 'zk://127.0.0.1:1', 'SVCDISCO_TIMEOUT' => '60s', 'SVCDISCO_COMMAND_TIMEOUT' => '1' }
    with_env(env) do
      e = assert_raises(Svcdisco::TimeoutError) { @host.all_providers_for_service('web') }
      assert_kind_of Svcdisco::UnreachableError, e
      assert_match(/no answer within 1\.0s/, e.message)
    end
  end

  def test_usage_and_other_errors
    _, err, = svcdisco('query', 'bad name', '-o', 'json')
    e = assert_raises(Svcdisco::UsageError) { @host.all_providers_for_service('bad name') }
    assert_equal [2, last_line(err)], [e.exit_status, e.message]
    assert_raises(ArgumentError) { @host.all_providers_for_service('web', within: 10) }
    with_env('SVCDISCO_BIN' => '/nonexistent/svcdisco') do
      e = assert_raises(Svcdisco::Error) { @host.all_providers_for_service('web') }
      assert_match(%r{cannot run /nonexistent/svcdisco}, e.message)
    end
  end

  def test_prefixed_names_are_the_same_methods
    %i[all_providers_for_service provider_for_service provide_service zk_connect_str].each do |m|
      assert_equal Svcdisco::Discovery.instance_method(m), Svcdisco::Discovery.instance_method(:"svcdisco_#{m}")
    end
    assert_equal query('web'), @host.svcdisco_all_providers_for_service('web')
  end

  def test_include_maintenance
    require_feature('agent')
    register('maint', 7000, 'm1.example.com')
    register('maint', 7001, 'm2.example.com', '--maintenance')
    got = @host.all_providers_for_service('maint')
    assert_equal query('maint'), got
    assert_equal ['m1.example.com'], got.map { |p| p['host'] }
    got = @host.all_providers_for_service('maint', include_maintenance: true)
    assert_equal query('maint', '--include-maintenance'), got
    assert_equal %w[up maintenance], got.map { |p| p['status'] }
  end

  def test_format_and_path
    assert_equal %w[query web -o json --format serverset --path /ss/{service}],
                 @host.svcdisco_query_args('web', format: 'serverset', path: '/ss/{service}')
    # auto on svcdisco's own znode lists the same providers as the default.
    assert_equal query('web'), @host.all_providers_for_service('web', format: 'auto')
    e = assert_raises(Svcdisco::Error) { @host.all_providers_for_service('web', format: 'finagle') }
    assert_match(/invalid format "finagle"/, e.message)
  end
end
