# frozen_string_literal: true

# Exceptions raised when svcdisco fails. Each carries svcdisco's own one-line
# message (its last "svcdisco: ..." line on stderr), the exit status and the
# command line, so a failed converge says exactly what svcdisco said.
module Svcdisco
  # Error is any svcdisco failure: exit 1 (failure) or 5 (check rejected),
  # a binary that cannot be run, or output that does not parse.
  class Error < StandardError
    attr_reader :exit_status, :command, :stderr

    def initialize(message, exit_status: nil, command: nil, stderr: nil)
      super(message)
      @exit_status = exit_status
      @command = command
      @stderr = stderr
    end
  end

  # UsageError is exit 2: invalid input (a bad service name, duration,
  # attribute filter or config key). Fix the recipe, not the network.
  class UsageError < Error; end

  # NotEnoughProvidersError is exit 3: fewer providers than :at_least
  # (after :wait), which includes a service nobody provides.
  class NotEnoughProvidersError < Error; end

  # UnreachableError is exit 4: ZooKeeper or Exhibitor could not be reached
  # within svcdisco's --timeout (or a chroot is missing).
  class UnreachableError < Error; end

  # TimeoutError is svcdisco not answering within the library's own
  # deadline; it is killed. Like exit 4, the registry is the likely cause.
  class TimeoutError < UnreachableError; end

  # STALE_EXIT is svcdisco's exit 6: a complete answer from its answer
  # cache, given because the registry could not be reached and the call
  # allowed it (:stale_ok). It is not an error: the answer is used and the
  # warning logged.
  STALE_EXIT = 6

  # warn_stale logs a stale answer's warning line (its age and the failure)
  # to the Chef log, or to stderr outside Chef, and remembers it in
  # stale_warnings for the rest of the run.
  def self.warn_stale(message)
    stale_warnings << message
    if defined?(Chef::Log)
      Chef::Log.warn(message)
    else
      Kernel.warn(message)
    end
  end

  def self.stale_warnings
    @stale_warnings ||= []
  end

  # Exit statuses svcdisco documents, and the exception each one raises.
  EXIT_ERRORS = {
    2 => UsageError,
    3 => NotEnoughProvidersError,
    4 => UnreachableError
  }.freeze
end
