# frozen_string_literal: true

require 'open3'
require_relative 'errors'

module Svcdisco
  # Runner runs the svcdisco binary once and turns its exit status into a
  # result or one of the Svcdisco exceptions.
  #
  # It does not use Ruby's Timeout module (which can interrupt a thread
  # anywhere, e.g. inside Chef's own code): the child gets a deadline, and
  # is sent SIGTERM, then SIGKILL, when it passes.
  class Runner
    # Seconds between SIGTERM and SIGKILL for a child past its deadline.
    KILL_GRACE = 2

    attr_reader :bin, :env, :timeout

    # bin: path or name of the svcdisco binary (looked up in PATH).
    # env: extra environment (SVCDISCO_REGISTRY, SVCDISCO_ROOT, ...).
    # timeout: seconds svcdisco may take, on top of any :wait.
    def initialize(bin: 'svcdisco', env: {}, timeout: 30)
      @bin = bin
      @env = env
      @timeout = timeout
    end

    # run runs `bin *args` and returns its stdout; extra_time is added to
    # the deadline (a query's :wait). Raises a Svcdisco::Error subclass on a
    # non-zero exit, on a missing binary, or when the deadline passes.
    # Exit 6 (a stale answer, given only when the call allowed one) returns
    # the answer and logs svcdisco's warning line (Svcdisco.warn_stale).
    def run(args, extra_time: 0)
      argv = [bin, *args]
      deadline = timeout + extra_time
      out, err, status = capture(argv, deadline)
      return out if status.success?

      if status.exitstatus == STALE_EXIT
        Svcdisco.warn_stale(message_of(err, status))
        return out
      end
      raise error_for(status, err, argv)
    end

    private

    def capture(argv, deadline)
      Open3.popen3(env, *argv) do |stdin, stdout, stderr, wait_thr|
        stdin.close
        readers = [Thread.new { stdout.read }, Thread.new { stderr.read }]
        unless wait_thr.join(deadline)
          stop(wait_thr.pid, wait_thr)
          raise TimeoutError.new(
            "svcdisco: no answer within #{deadline}s (#{argv.drop(1).join(' ')}); killed",
            command: argv, stderr: readers[1].value
          )
        end
        [readers[0].value, readers[1].value, wait_thr.value]
      end
    rescue SystemCallError => e # ENOENT, EACCES: the binary cannot be run
      raise Error.new("svcdisco: cannot run #{argv.first}: #{e.message}", command: argv)
    end

    def stop(pid, wait_thr)
      signal('TERM', pid)
      signal('KILL', pid) unless wait_thr.join(KILL_GRACE)
      wait_thr.join
    end

    def signal(sig, pid)
      Process.kill(sig, pid)
    rescue Errno::ESRCH
      nil # already gone
    end

    def error_for(status, err, argv)
      code = status.exitstatus
      klass = EXIT_ERRORS.fetch(code, Error)
      klass.new(message_of(err, status), exit_status: code, command: argv, stderr: err)
    end

    # message_of is svcdisco's error line: the last stderr line it printed
    # with its "svcdisco: " prefix (log lines come before it), else the
    # last non-empty line, else the exit status.
    def message_of(err, status)
      lines = err.to_s.lines.map(&:strip).reject(&:empty?)
      lines.reverse.find { |l| l.start_with?('svcdisco: ') } || lines.last ||
        "svcdisco: #{status}"
    end
  end
end
