# frozen_string_literal: true

# Shared by the cookbook's tests. They run in plain Ruby (Chef is not
# needed) against the REAL svcdisco binary and a REAL ZooKeeper, which the
# Go test examples/chef/chef_test.go provides through the environment:
#   SVCDISCO_BIN       the binary under test
#   SVCDISCO_REGISTRY  zk:// URL of a running ZooKeeper (read by svcdisco)
#   SVCDISCO_ROOT      a root of its own, so runs do not see each other
#   SVCDISCO_TEST_FEATURES  commands this source tree has beyond query
#                      (agent, ensemble); tests of the others are skipped
require 'minitest/autorun'
require 'json'
require 'open3'
require 'tmpdir'
require 'svcdisco'

%w[SVCDISCO_BIN SVCDISCO_REGISTRY SVCDISCO_ROOT].each do |var|
  abort "test: #{var} is not set (run the tests through `go test ./examples/chef/`)" if ENV[var].to_s.empty?
end

module TestHelper
  BIN = ENV.fetch('SVCDISCO_BIN')

  # Host is what a recipe or template is: something the library is mixed into.
  class Host
    include Svcdisco::Discovery

    def initialize(vars = {})
      vars.each { |k, v| instance_variable_set("@#{k}", v) }
    end

    def render(template)
      ERB.new(File.read(template), trim_mode: '-').result(binding)
    end
  end

  def self.feature?(name)
    ENV.fetch('SVCDISCO_TEST_FEATURES', '').split(',').include?(name)
  end

  # svcdisco runs the binary directly: the answer the library must match.
  def svcdisco(*args, env: {})
    out, err, status = Open3.capture3(env, BIN, *args)
    [out, err, status.exitstatus]
  end

  def svcdisco_json(*args)
    out, err, code = svcdisco(*args)
    assert_equal 0, code, "svcdisco #{args.join(' ')}: #{err}"
    JSON.parse(out)
  end

  def require_feature(name)
    skip "this source tree has no `svcdisco #{name}`" unless TestHelper.feature?(name)
  end

  # Running is a long-running svcdisco (register, agent), stopped with
  # SIGTERM (which deregisters) when the test run ends.
  class Running
    attr_reader :pid, :stderr_path

    def initialize(args)
      @stderr_path = File.join(Dir.tmpdir, "svcdisco-#{::Process.pid}-#{object_id}.err")
      @out_r, out_w = IO.pipe
      @pid = ::Process.spawn(BIN, *args, out: out_w, err: @stderr_path)
      out_w.close
      PROCESSES << self
    end

    # wait_line waits for a stdout line containing text.
    def wait_line(text, seconds = 20)
      deadline = Time.now + seconds
      buf = +''
      while Time.now < deadline
        ready = IO.select([@out_r], nil, nil, 0.2)
        next unless ready

        chunk = @out_r.read_nonblock(4096, exception: false)
        raise "svcdisco exited before printing #{text.inspect}: #{stderr}" if chunk.nil?

        buf << chunk if chunk.is_a?(String)
        return buf if buf.include?(text)
      end
      raise "no line containing #{text.inspect} within #{seconds}s: #{stderr}"
    end

    def stderr
      File.exist?(stderr_path) ? File.read(stderr_path) : ''
    end

    def stop
      ::Process.kill('TERM', pid)
      ::Process.wait(pid)
    rescue Errno::ESRCH, Errno::ECHILD
      nil
    ensure
      File.unlink(stderr_path) if File.exist?(stderr_path)
    end
  end
  PROCESSES = []
  Minitest.after_run { PROCESSES.each(&:stop) }

  # register starts `svcdisco register` and waits until it is registered.
  def register(service, port, host, *extra)
    p = Running.new(['register', service, '--port', port.to_s, '--host', host, *extra])
    p.wait_line('registered')
    p
  end

  # wait_until polls cond (a provider list converging after a file change).
  def wait_until(what, seconds = 20)
    deadline = Time.now + seconds
    until yield
      flunk "timed out after #{seconds}s waiting for #{what}" if Time.now > deadline
      sleep 0.05
    end
  end
end

module TestHelper
  # with_env sets environment variables (nil unsets) for the block.
  def with_env(vars)
    old = vars.keys.to_h { |k| [k, ENV[k]] }
    vars.each { |k, v| ENV[k] = v }
    yield
  ensure
    old.each { |k, v| ENV[k] = v }
  end

  # last_line is svcdisco's error line, as the exceptions carry it.
  def last_line(stderr)
    stderr.lines.map(&:strip).reject(&:empty?).last
  end
end
