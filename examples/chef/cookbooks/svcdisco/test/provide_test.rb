# frozen_string_literal: true

require_relative 'test_helper'

# provide_service writes the agent's services.d file atomically and reports
# whether it changed; a running `svcdisco agent` registers what it wrote.
class ProvideTest < Minitest::Test
  include TestHelper

  def setup
    @dir = Dir.mktmpdir('services.d')
    @old_dir = ENV['SVCDISCO_SERVICES_DIR']
    ENV['SVCDISCO_SERVICES_DIR'] = @dir
    @host = Host.new
  end

  def teardown
    ENV['SVCDISCO_SERVICES_DIR'] = @old_dir
    FileUtils.rm_rf(@dir)
  end

  def test_writes_the_agent_file_format
    changed = @host.provide_service('redis', port: 6379, host: 'cache1.example.com', role: 'master',
                                             attributes: { 'zone' => 'us-east-1a', shards: 4 }, tags: %w[primary v2],
                                             endpoints: { admin: 'cache1.example.com:6380', stats: { host: 'h', port: 9 } },
                                             check: 'tcp://127.0.0.1:6379', check_interval: 2)
    assert changed
    path = File.join(@dir, 'redis.json')
    assert_equal <<~JSON, File.read(path)
      {
        "service": "redis",
        "port": 6379,
        "host": "cache1.example.com",
        "attributes": {
          "role": "master",
          "shards": "4",
          "zone": "us-east-1a"
        },
        "tags": [
          "primary",
          "v2"
        ],
        "endpoints": {
          "admin": "cache1.example.com:6380",
          "stats": "h:9"
        },
        "check": "tcp://127.0.0.1:6379",
        "check_interval": "2s"
      }
    JSON
    assert_equal 0o644, File.stat(path).mode & 0o777
    assert_equal ['redis.json'], Dir.children(@dir), 'no temporary file is left behind'
  end

  def test_changed_only_when_the_bytes_change
    assert @host.provide_service('memcached', port: 11_211, attributes: { pool: 'a' })
    inode = File.stat(File.join(@dir, 'memcached.json')).ino
    refute @host.provide_service('memcached', 'port' => '11211', 'attributes' => { 'pool' => 'a' })
    assert_equal inode, File.stat(File.join(@dir, 'memcached.json')).ino, 'an unchanged file is not rewritten'
    assert @host.provide_service('memcached', port: 11_211, attributes: { pool: 'b' })
  end

  def test_id_names_the_file
    assert @host.provide_service('web', port: 8080, id: 'web-admin')
    assert_equal ['web-admin.json'], Dir.children(@dir)
  end

  def test_bad_input_writes_nothing
    assert_raises(ArgumentError) { @host.provide_service('web', host: 'h') }
    assert_raises(ArgumentError) { @host.provide_service('web', port: 70_000) }
    assert_raises(ArgumentError) { @host.provide_service('bad/name', port: 1) }
    assert_raises(ArgumentError) { @host.provide_service('web', port: 1, id: '../x') }
    assert_raises(ArgumentError) { @host.provide_service('web', port: 1, nested: { a: 1 }) }
    assert_equal [], Dir.children(@dir)
  end

  def test_agent_validates_what_provide_service_writes
    require_feature('agent')
    @host.provide_service('redis', port: 6379, role: 'master', endpoints: { admin: 'h:6380' },
                                   check: 'tcp://127.0.0.1:6379', check_interval: '2s', rise: 2, fall: 3, weight: 2)
    _, err, code = svcdisco('agent', '--config-dir', @dir, '--once')
    assert_equal 0, code, err
  end

  def test_agent_registers_the_provider
    require_feature('agent')
    agent = Running.new(['agent', '--config-dir', @dir])
    assert @host.provide_service('chefweb', port: 8080, host: 'node1.example.com', address: '10.0.2.1',
                                            attributes: { zone: 'us-east-1a' })
    wait_until('the agent to register chefweb') { @host.all_providers_for_service('chefweb').size == 1 }
    got = @host.all_providers_for_service('chefweb')
    assert_equal svcdisco_json('query', 'chefweb', '-o', 'json'), got
    p = got.first
    assert_equal ['node1.example.com', '10.0.2.1', 8080, { 'zone' => 'us-east-1a' }],
                 [p['host'], p['address'], p['port'], p['attributes']]
    refute @host.provide_service('chefweb', port: 8080, host: 'node1.example.com', address: '10.0.2.1',
                                            attributes: { zone: 'us-east-1a' })
  ensure
    agent&.stop
  end
end
