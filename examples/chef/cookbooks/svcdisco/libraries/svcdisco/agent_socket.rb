# frozen_string_literal: true

require 'json'
require 'socket'
require_relative 'errors'

module Svcdisco
  # AgentSocket asks the node's agent (`svcdisco agent --serve PATH`) to run
  # a query command line on its node cache: the answer is exactly what
  # `svcdisco query ...` would print, with no process started and no
  # ZooKeeper session opened. HTTP/1.0 over the unix socket, by hand: one
  # request, one answer, the connection closed.
  #
  # query returns the output, raises the exception of the exit code the
  # command would have had (2, 3), or returns nil when the agent cannot
  # answer (no socket, nobody listening, its cache stale, the registry
  # unreachable from it, a broken answer): the caller then runs the binary,
  # which asks the registry itself and applies :stale_ok.
  module AgentSocket
    module_function

    # labels: the registry and root the call is configured for (an agent
    # serving others refuses, and the binary is run instead).
    def query(path, args, timeout, labels = {})
      return nil if path.nil? || path.to_s.empty? || !File.socket?(path.to_s)

      status, body = request(path.to_s, JSON.generate('args' => args), timeout, labels)
      return body if status == 200

      error_for(status, body, args)
    rescue SystemCallError, IOError, JSON::ParserError
      nil
    end

    def request(path, payload, timeout, labels)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      headers = labels.compact.reject { |_, v| v.to_s.empty? }.map { |k, v| "#{k}: #{v}\r\n" }.join
      UNIXSocket.open(path) do |sock|
        sock.write("POST /v1/query HTTP/1.0\r\nHost: agent\r\nContent-Type: application/json\r\n#{headers}" \
                   "Content-Length: #{payload.bytesize}\r\n\r\n#{payload}")
        parse(read_all(sock, deadline))
      end
    end

    # read_all reads until the agent closes the connection or the deadline
    # passes (then the agent is given up on, and nil makes query fall back).
    def read_all(sock, deadline)
      out = +''
      loop do
        left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        raise IOError, 'agent socket: no answer in time' if left <= 0
        raise IOError, 'agent socket: no answer in time' unless sock.wait_readable(left)

        chunk = sock.read_nonblock(65_536, exception: false)
        break if chunk.nil?
        next if chunk == :wait_readable

        out << chunk
      end
      out
    end

    def parse(raw)
      head, body = raw.split("\r\n\r\n", 2)
      status = head.to_s[%r{\AHTTP/1\.\d (\d{3})}, 1]
      raise IOError, 'agent socket: not an HTTP answer' if status.nil? || body.nil?

      [Integer(status), body.force_encoding(Encoding::UTF_8)]
    end

    # error_for raises what the binary's exit code would raise, for the
    # answers the agent can give for sure (invalid input, too few
    # providers); anything else returns nil (the binary is run instead).
    def error_for(status, body, args)
      err = JSON.parse(body)
      code = err['exit']
      return nil unless [2, 3].include?(code) && [400, 409].include?(status)

      message = "svcdisco: #{err['error']}"
      raise EXIT_ERRORS.fetch(code).new(message, exit_status: code, command: ['svcdisco', *args])
    end
  end
end
