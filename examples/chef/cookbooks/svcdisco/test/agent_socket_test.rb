# frozen_string_literal: true

require_relative 'test_helper'

# With SVCDISCO_AGENT_SOCKET (node['svcdisco']['agent']['socket'] under
# Chef) the library asks the agent's node cache over its socket: the same
# answers and exceptions as the binary, with no process started (the tests
# prove it by pointing SVCDISCO_BIN at nothing).
class AgentSocketTest < Minitest::Test
  include TestHelper

  def self.agent
    @agent ||= begin
      h = Object.new.extend(TestHelper)
      h.register('sock', 9001, 'sock1.example.com', '--attr', 'zone=a')
      h.register('sock', 9002, 'sock2.example.com', '--attr', 'zone=b')
      dir = Dir.mktmpdir('svcdisco-agent-')
      sock = File.join(dir, 'agent.sock')
      Running.new(['agent', '--serve', sock, '--config-dir', dir])
      h.wait_until('the agent socket') { File.socket?(sock) }
      sock
    end
  end

  def setup
    require_feature('agent')
    @sock = self.class.agent
    @host = Host.new
  end

  def query(*args)
    svcdisco_json('query', *args, '-o', 'json')
  end

  def test_same_answers_with_no_process
    want = [query('sock'), query('sock', '--where', 'zone=a'), query('sock', '--latest')]
    with_env('SVCDISCO_AGENT_SOCKET' => @sock, 'SVCDISCO_BIN' => '/nonexistent/svcdisco') do
      got = [@host.all_providers_for_service('sock'), @host.all_providers_for_service('sock', where: { 'zone' => 'a' }),
             [@host.provider_for_service('sock')]]
      assert_equal want, got
      assert_equal %w[sock1.example.com sock2.example.com], got[0].map { |p| p['host'] }
      err = assert_raises(Svcdisco::NotEnoughProvidersError) { @host.all_providers_for_service('sock', at_least: 3) }
      _, stderr, code = svcdisco('query', 'sock', '--at-least', '3')
      assert_equal [code, last_line(stderr)], [err.exit_status, err.message]
      assert_raises(Svcdisco::UsageError) { @host.all_providers_for_service('bad name') }
    end
  end

  def test_falls_back_to_the_binary
    with_env('SVCDISCO_AGENT_SOCKET' => File.join(Dir.tmpdir, 'no-such-agent.sock')) do
      assert_equal query('sock'), @host.all_providers_for_service('sock')
    end
    # An agent serving another root is not asked for this one's answers.
    other = "#{ENV.fetch('SVCDISCO_ROOT')}-other"
    with_env('SVCDISCO_AGENT_SOCKET' => @sock, 'SVCDISCO_ROOT' => other) do
      assert_equal [], @host.all_providers_for_service('sock')
    end
  end
end
