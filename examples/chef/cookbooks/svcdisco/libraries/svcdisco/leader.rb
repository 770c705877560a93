# frozen_string_literal: true

require 'json'
require_relative 'errors'

module Svcdisco
  # leader_for is the election detector for recipes and templates: who
  # leads the group that `svcdisco elect GROUP` contenders run.
  module Discovery
    # leader_for returns the leader of group as a provider hash (the shape
    # of all_providers_for_service's entries, string keys), or nil when the
    # group has no leader. Other failures raise as for queries
    # (UnreachableError, UsageError, ...).
    def leader_for(group)
      args = ['leader', group.to_s, '-o', 'json']
      JSON.parse(svcdisco_runner.run(args))
    rescue NotEnoughProvidersError # exit 3: no leader
      nil
    rescue JSON::ParserError => e
      raise Error.new("svcdisco: leader #{group}: output is not JSON: #{e.message}", command: args)
    end

    alias svcdisco_leader_for leader_for
  end
end
