# frozen_string_literal: true

require 'fileutils'
require 'json'
require 'time'
require_relative 'errors'
require_relative 'runner'
require_relative 'config'
require_relative 'provider_file'
require_relative 'agent_socket'

module Svcdisco
  # Discovery is what recipes, resources and templates call instead of Chef
  # search: ironfan's cluster_service_discovery methods, answered by the
  # svcdisco binary from ZooKeeper. Providers are the hashes of
  # `svcdisco query -o json` (string keys), oldest first.
  #
  # Settings come from node['svcdisco'] under Chef, and from the
  # environment in plain Ruby: SVCDISCO_BIN (the binary), SVCDISCO_SERVICES_DIR
  # (where provide_service writes), SVCDISCO_COMMAND_TIMEOUT (seconds), and
  # svcdisco's own SVCDISCO_REGISTRY, SVCDISCO_ROOT, ... which the binary reads.
  module Discovery
    DEFAULT_SERVICES_DIR = '/etc/svcdisco/services.d'
    DEFAULT_COMMAND_TIMEOUT = 30

    # all_providers_for_service returns every provider of service, oldest
    # first. Options (ironfan's names where they overlap):
    #   :since               Time, epoch seconds or an RFC 3339 string
    #   :within_last         seconds, or a duration string such as "10m"
    #   :at_least            raise NotEnoughProvidersError if fewer match
    #   :wait                with :at_least, wait this long (seconds or "30s")
    #   :where               {'zone' => 'a'}; a key ending in '!' negates:
    #                        {'version!' => '1.4.1'} (also :service_filters)
    #   :tags                %w[primary v2]: providers carrying every tag
    #   :include_maintenance also list providers in maintenance
    #   :format              read entries other systems wrote: 'curator',
    #                        'serverset', 'nerve' or 'auto' (svcdisco's own
    #                        by default; see the README's "Reading other
    #                        systems' registrations")
    #   :path                the znode holding the service's entries, for
    #                        :format ('{service}' stands for the service)
    #   :stale_ok            while the registry cannot be reached, answer
    #                        from svcdisco's answer cache if its answer is
    #                        at most this old (seconds or "1h"); a stale
    #                        answer is returned with a warning in the Chef
    #                        log. Default node['svcdisco']['stale_ok'];
    #                        false turns it off for one call.
    def all_providers_for_service(service, options = {})
      svcdisco_query(service, options, [])
    end

    # provider_for_service is the newest provider (nil when there is none).
    def provider_for_service(service, options = {})
      svcdisco_query(service, options, ['--latest']).last
    end

    # provide_service declares this node a provider of service (info:
    # :port, :host, :address, :id, :attributes, :endpoints, :weight,
    # :maintenance, :check, ...; other keys become attributes). Under Chef
    # it declares a svcdisco_provider resource (the agent's services.d file
    # is written when the run converges, with the file resource's
    # semantics) and returns it, so it can notify:
    #   provide_service('web', port: 80).notifies(:reload, 'systemd_unit[svcdisco-agent.service]')
    # Without Chef it writes the file at once and returns whether it changed.
    def provide_service(service, info = {})
      return ProviderFile.declare(self, service, info) if respond_to?(:declare_resource, true)

      dir = svcdisco_settings[:services_dir]
      FileUtils.mkdir_p(dir, mode: 0o755) unless File.directory?(dir)
      ProviderFile.new(dir, service, info).write
    end

    # zk_connect_str is the ZooKeeper connection string from `svcdisco
    # ensemble` (Exhibitor, else its cache, else the backup hosts).
    # chroot: nil (none), true (the registry URL's), or a path ("kafka").
    def zk_connect_str(chroot = nil)
      args = ['ensemble']
      if chroot == true
        args << '--chroot'
      elsif chroot && !chroot.to_s.empty?
        args << "--chroot=/#{chroot.to_s.sub(%r{\A/+}, '')}"
      end
      svcdisco_runner.run(args).strip
    end

    # The same methods under names of their own, for runs where ironfan's
    # cluster_service_discovery is still loaded (its methods have the same
    # names, and whichever module Chef includes last would win).
    alias svcdisco_all_providers_for_service all_providers_for_service
    alias svcdisco_provider_for_service provider_for_service
    alias svcdisco_provide_service provide_service
    alias svcdisco_zk_connect_str zk_connect_str

    # svcdisco_query_args is the `svcdisco query` command line for the
    # options (without the binary): what the library runs, for logs and tests.
    def svcdisco_query_args(service, options = {})
      QueryArgs.build(service, options)
    end

    private

    def svcdisco_query(service, options, extra)
      options = (options || {}).transform_keys(&:to_sym)
      stale_ok = svcdisco_settings[:stale_ok]
      options = options.merge(stale_ok: stale_ok) unless options.key?(:stale_ok) || stale_ok.nil?
      args = QueryArgs.build(service, options) + extra
      wait = QueryArgs.seconds(options[:wait]) || 0
      s = svcdisco_settings
      labels = { 'Svcdisco-Registry' => s[:env]['SVCDISCO_REGISTRY'] || ENV['SVCDISCO_REGISTRY'],
                 'Svcdisco-Root' => s[:env]['SVCDISCO_ROOT'] || ENV['SVCDISCO_ROOT'] }
      out = AgentSocket.query(s[:agent_socket], args, s[:timeout] + wait, labels) ||
            svcdisco_runner.run(args, extra_time: wait)
      JSON.parse(out)
    rescue JSON::ParserError => e
      raise Error.new("svcdisco: query #{service}: output is not JSON: #{e.message}", command: args)
    end

    def svcdisco_runner
      s = svcdisco_settings
      Runner.new(bin: s[:bin], env: s[:env], timeout: s[:timeout])
    end

    # svcdisco_settings reads node['svcdisco'] under Chef, else ENV.
    def svcdisco_settings
      n = svcdisco_node
      return Discovery.settings_from_env(ENV) if n.nil?

      env = n.respond_to?(:chef_environment) ? n.chef_environment : nil
      Discovery.settings_from_node(n['svcdisco'], env)
    end

    def svcdisco_node
      return nil unless respond_to?(:node)

      n = node
      n && n['svcdisco'] ? n : nil
    rescue StandardError # a template context without a node
      nil
    end

    def self.settings_from_env(env)
      {
        bin: env.fetch('SVCDISCO_BIN', 'svcdisco'),
        env: {},
        timeout: Float(env.fetch('SVCDISCO_COMMAND_TIMEOUT', DEFAULT_COMMAND_TIMEOUT)),
        services_dir: env.fetch('SVCDISCO_SERVICES_DIR', DEFAULT_SERVICES_DIR),
        stale_ok: nil, # the binary reads SVCDISCO_STALE_OK itself
        agent_socket: env['SVCDISCO_AGENT_SOCKET']
      }
    end

    # settings_from_node uses the installed binary when it exists (else
    # svcdisco from PATH) and passes the registry settings as SVCDISCO_*
    # variables (the config file may not be written yet at compile time),
    # scoped by the node's Chef environment like the config file.
    def self.settings_from_node(attrs, environment = nil)
      bin = attrs['bin'].to_s
      bin = 'svcdisco' if bin.empty? || !File.executable?(bin)
      {
        bin: bin,
        env: Config.env(attrs, environment),
        timeout: Float(attrs['command_timeout'] || DEFAULT_COMMAND_TIMEOUT),
        services_dir: (attrs['services_dir'] || DEFAULT_SERVICES_DIR).to_s,
        stale_ok: attrs['stale_ok'],
        agent_socket: Config.settings(attrs, environment)['agent_socket']
      }
    end
  end

  # QueryArgs maps all_providers_for_service's options to `svcdisco query`
  # flags. Unknown options are an ArgumentError, so a typo is not a silent
  # "no filter".
  module QueryArgs
    KNOWN = %i[since within_last at_least wait where service_filters tags include_maintenance format path stale_ok].freeze

    module_function

    def build(service, options)
      options = (options || {}).transform_keys(&:to_sym)
      unknown = options.keys - KNOWN
      raise ArgumentError, "svcdisco: unknown option(s) #{unknown.join(', ')} for #{service}" unless unknown.empty?

      args = ['query', service.to_s, '-o', 'json']
      args += ['--since', since(options[:since])] unless options[:since].nil?
      args += ['--within-last', duration(options[:within_last])] unless options[:within_last].nil?
      args += ['--at-least', Integer(options[:at_least]).to_s] unless options[:at_least].nil?
      args += ['--wait', duration(options[:wait])] unless options[:wait].nil?
      where(options).each { |k, v| args += ['--where', "#{k}=#{v}"] }
      Array(options[:tags]).each { |t| args += ['--tag', t.to_s] }
      args << '--include-maintenance' if options[:include_maintenance]
      args += ['--format', options[:format].to_s] unless options[:format].nil?
      args += ['--path', options[:path].to_s] unless options[:path].nil?
      args + stale_ok(options)
    end

    # stale_ok: a duration allows stale answers that old; false (or 0)
    # forbids them, also over SVCDISCO_STALE_OK; nil leaves it to svcdisco.
    def stale_ok(options)
      value = options[:stale_ok]
      return [] if value.nil?
      return ['--stale-ok', '0s'] if value == false

      ['--stale-ok', duration(value)]
    end

    def where(options)
      filters = {}
      [options[:service_filters], options[:where]].compact.each do |h|
        h.each { |k, v| filters[k.to_s] = v.to_s }
      end
      filters
    end

    # since: a Time, epoch seconds (as ironfan's Time.at(options[:since])),
    # or an RFC 3339 string passed through.
    def since(value)
      case value
      when Time then value.utc.iso8601(3)
      when Numeric then Time.at(value).utc.iso8601(3)
      else value.to_s
      end
    end

    # duration: numbers are seconds (ironfan's :within_last), strings are
    # svcdisco durations ("10m", "1h30m").
    def duration(value)
      value.is_a?(Numeric) ? "#{value}s" : value.to_s
    end

    # seconds converts a duration option to seconds for the local deadline.
    def seconds(value)
      return nil if value.nil?
      return value.to_f if value.is_a?(Numeric)

      total = 0.0
      value.to_s.scan(/(\d+(?:\.\d+)?)(ms|h|m|s)/) do |num, unit|
        total += num.to_f * { 'ms' => 0.001, 's' => 1, 'm' => 60, 'h' => 3600 }.fetch(unit)
      end
      total
    end
  end
end
