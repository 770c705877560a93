# frozen_string_literal: true

require_relative 'test_helper'

# The default recipe's svcdisco.yaml and the node-attribute settings must be
# what the real binary accepts; zk_connect_str must print what
# `svcdisco ensemble` prints.
class ConfigTest < Minitest::Test
  include TestHelper

  ZK_HOSTS = ENV.fetch('SVCDISCO_REGISTRY').sub(%r{\Azk://}, '')

  # NodeHost is a recipe under Chef: settings come from node['svcdisco'].
  class NodeHost < Host
    def initialize(attrs)
      super()
      @attrs = attrs
    end

    def node
      { 'svcdisco' => @attrs }
    end
  end

  def test_registry_url
    url = ->(attrs) { Svcdisco::Config.registry_url(attrs) }
    assert_equal 'zk://zk1:2181,zk2:2181/prod', url.call('zookeeper' => { 'hosts' => %w[zk1:2181 zk2:2181] }, 'chroot' => 'prod')
    assert_equal 'exhibitor://ex1:8080,ex2:8080/prod?backup=zk1:2181,zk2:2181',
                 url.call('exhibitor' => { 'hosts' => %w[ex1:8080 ex2:8080], 'backup' => %w[zk1:2181 zk2:2181] },
                          'zookeeper' => { 'hosts' => %w[ignored:2181] }, 'chroot' => '/prod')
    assert_equal 'exhibitor://ex1:8080', url.call('exhibitor' => { 'hosts' => ['ex1:8080'] })
    assert_equal 'zk://given:2181', url.call('registry' => 'zk://given:2181', 'exhibitor' => { 'hosts' => ['ex1'] })
    # No hosts: the local ZooKeeper (the attribute has no default list, see
    # attributes/default.rb).
    assert_equal 'zk://127.0.0.1:2181', url.call('zookeeper' => { 'hosts' => nil })
  end

  def test_root_is_scoped_by_environment
    root = ->(attrs, env) { Svcdisco::Config.root(attrs, env) }
    assert_equal '/svcdisco/production', root.call({ 'environment_scope' => true }, 'production')
    assert_equal '/sd/staging', root.call({ 'root_prefix' => '/sd/', 'environment_scope' => true }, 'staging')
    assert_equal '/svcdisco', root.call({ 'environment_scope' => false }, 'production')
    assert_equal '/given', root.call({ 'config' => { 'root' => '/given' } }, 'production')
    assert_equal '/svcdisco', root.call({}, nil)
    assert_raises(ArgumentError) { root.call({}, 'bad/env') }
  end

  def test_lists_and_maps_stay_out_of_the_environment
    attrs = { 'config' => { 'timeout' => '5s', 'templates' => [{ 'source' => 'a', 'destination' => 'b' }] } }
    env = Svcdisco::Config.env(attrs, 'production')
    assert_equal({ 'SVCDISCO_REGISTRY' => 'zk://127.0.0.1:2181', 'SVCDISCO_ROOT' => '/svcdisco/production',
                   'SVCDISCO_TIMEOUT' => '5s' }, env)
    assert_equal [{ 'source' => 'a', 'destination' => 'b' }], Svcdisco::Config.settings(attrs)['templates']
  end

  def test_agent_socket_is_served_and_asked
    attrs = { 'agent' => { 'socket' => '/run/svcdisco/agent.sock', 'socket_group' => 'chef' } }
    settings = Svcdisco::Config.settings(attrs, 'production')
    assert_equal '/run/svcdisco/agent.sock', settings['serve']
    assert_equal '/run/svcdisco/agent.sock', settings['agent_socket']
    assert_equal 'chef', settings['serve_group']
    env = Svcdisco::Config.env(attrs, 'production')
    assert_equal '/run/svcdisco/agent.sock', env['SVCDISCO_AGENT_SOCKET']
    assert_nil env['SVCDISCO_SERVE'], 'only the agent serves'
    assert_nil Svcdisco::Config.settings({}, 'production')['agent_socket']
  end

  def test_config_file_is_accepted_by_svcdisco
    register('conf', 5000, 'conf1.example.com')
    attrs = { 'zookeeper' => { 'hosts' => [ZK_HOSTS] },
              'config' => { 'root' => ENV.fetch('SVCDISCO_ROOT'), 'session_timeout' => '10s', 'timeout' => '10s',
                            'log_level' => 'warn', 'unset_key' => nil } }
    yaml = Svcdisco::Config.yaml(attrs)
    refute_match(/unset_key/, yaml)
    Dir.mktmpdir do |dir|
      file = File.join(dir, 'svcdisco.yaml')
      File.write(file, yaml)
      no_env = { 'SVCDISCO_REGISTRY' => nil, 'SVCDISCO_ROOT' => nil }
      out, err, code = svcdisco('query', 'conf', '-o', 'json', '--config', file, env: no_env)
      assert_equal 0, code, "#{err}\n#{yaml}"
      assert_equal svcdisco_json('query', 'conf', '-o', 'json'), JSON.parse(out)
      assert_equal ['conf1.example.com'], JSON.parse(out).map { |p| p['host'] }
    end
  end

  def test_node_attributes_choose_the_registry
    register('nodeattrs', 5001, 'n1.example.com')
    attrs = { 'bin' => BIN, 'zookeeper' => { 'hosts' => [ZK_HOSTS] },
              'config' => { 'root' => ENV.fetch('SVCDISCO_ROOT'), 'timeout' => '10s' } }
    # The process environment points elsewhere: node attributes must win.
    with_env('SVCDISCO_REGISTRY' => 'zk://127.0.0.1:1', 'SVCDISCO_TIMEOUT' => '1s') do
      got = NodeHost.new(attrs).all_providers_for_service('nodeattrs')
      assert_equal ['n1.example.com'], got.map { |p| p['host'] }
    end
  end

  def test_zk_connect_str
    require_feature('ensemble')
    host = Host.new
    assert_equal svcdisco('ensemble').first.strip, host.zk_connect_str
    assert_equal sorted(ZK_HOSTS), host.zk_connect_str
    assert_equal "#{sorted(ZK_HOSTS)}/kafka", host.zk_connect_str('kafka')
    assert_equal "#{sorted(ZK_HOSTS)}/kafka", host.zk_connect_str('/kafka')
  end

  def test_zk_connect_str_falls_back_to_the_backup_hosts
    require_feature('ensemble')
    Dir.mktmpdir do |cache|
      attrs = { 'bin' => BIN, 'exhibitor' => { 'hosts' => ['127.0.0.1:1'], 'backup' => [ZK_HOSTS] }, 'chroot' => '/prod',
                'config' => { 'timeout' => '5s', 'ensemble_cache' => File.join(cache, 'ensemble.json') } }
      assert_equal "#{sorted(ZK_HOSTS)}/prod", NodeHost.new(attrs).zk_connect_str(true)
      attrs['exhibitor'] = { 'hosts' => ['127.0.0.1:1'] }
      attrs['config']['ensemble_cache'] = File.join(cache, 'none.json')
      e = assert_raises(Svcdisco::UnreachableError) { NodeHost.new(attrs).zk_connect_str }
      assert_equal 4, e.exit_status
      assert_match(/127\.0\.0\.1:1/, e.message)
    end
  end

  def sorted(hosts)
    hosts.split(',').sort.join(',')
  end
end

# The systemd unit the default recipe installs starts an agent that accepts
# its own command line, config file and directory.
class AgentUnitTest < Minitest::Test
  include TestHelper

  def test_exec_start_runs_the_agent
    require_feature('agent')
    Dir.mktmpdir do |dir|
      config = File.join(dir, 'svcdisco.yaml')
      services = File.join(dir, 'services.d')
      File.write(config, Svcdisco::Config.yaml('registry' => ENV.fetch('SVCDISCO_REGISTRY'), 'config' => { 'timeout' => '10s' }))
      with_env('SVCDISCO_SERVICES_DIR' => services) { Host.new.provide_service('web', port: 8080, check: 'tcp://127.0.0.1:8080') }
      unit = Svcdisco::Unit.content(bin: BIN, config_file: config, services_dir: services)
      exec_start = unit[/^ExecStart=(.*)$/, 1]
      assert_equal "#{BIN} agent --config #{config} --config-dir #{services}", exec_start
      _, err, code = svcdisco(*exec_start.split.drop(1), '--once')
      assert_equal 0, code, err
    end
  end
end
