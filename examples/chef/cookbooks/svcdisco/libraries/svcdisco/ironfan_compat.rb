# frozen_string_literal: true

require 'uri'
require_relative 'discovery'

module Svcdisco
  # IronfanCompat lets recipes and templates written for ironfan's
  # cluster_service_discovery, silverware's announce/discover and
  # exhibitor_discovery run unchanged on svcdisco. recipe[svcdisco::ironfan_compat]
  # activates it (activate!); nothing changes until then.
  #
  # Providers are returned as Server objects: Mashes with svcdisco's own keys
  # ('host', 'address', 'port', 'attributes', ...) plus the node keys ironfan
  # recipes read (ipaddress, private_ip, fqdn, cloud.private_ips,
  # provides_service.SERVICE), and name.
  module IronfanCompat
    # activate! prepends the layer to every class the library is mixed into.
    # Prepending (at recipe compile time, after every cookbook's libraries
    # have loaded) puts these methods ahead of any module or method an
    # ironfan or silverware library defines there, in whatever order the
    # libraries were loaded. Activating twice is harmless.
    def self.activate!
      targets = [Chef::Recipe, Chef::Resource, Chef::Provider, Chef::Mixin::Template::TemplateContext]
      targets.each { |klass| klass.prepend(self) unless klass.ancestors.include?(self) }
      true
    end

    # all_providers_for_service: svcdisco's providers as Servers, oldest
    # first; options as the library's (:service_filters included); a block
    # keeps the servers for which it returns true.
    def all_providers_for_service(service, options = {}, &block)
      servers = svcdisco_all_providers_for_service(service, options).map { |p| Server.from(p) }
      block ? servers.select(&block) : servers
    end

    # provider_for_service: the newest (matching) provider, or nil.
    def provider_for_service(service, options = {}, &block)
      return all_providers_for_service(service, options, &block).last if block

      p = svcdisco_provider_for_service(service, options)
      p && Server.from(p)
    end

    # provide_service declares svcdisco_provider (the library's own, here
    # too so that an ironfan library's method of that name cannot win).
    def provide_service(service, info = {})
      svcdisco_provide_service(service, info)
    end

    # provider_for_service_or_fail raises Svcdisco::NotEnoughProvidersError
    # (svcdisco's exit 3) when the service has no provider.
    def provider_for_service_or_fail(service, options = {})
      Server.from(svcdisco_provider_for_service(service, options.merge(at_least: 1)))
    end

    def provider_private_ip(service, options = {})
      server = provider_for_service(service, options) or return nil
      private_ip_of(server)
    end

    def provider_fqdn(service, options = {})
      server = provider_for_service(service, options) or return nil
      fqdn_of(server)
    end

    def all_provider_private_ips(service, options = {})
      all_providers_for_service(service, options).map { |s| private_ip_of(s) }
    end

    # private_ip_of: the first cloud private IP, else ipaddress.
    def private_ip_of(server)
      cloud = server[:cloud]
      ips = cloud && cloud[:private_ips]
      (ips && ips.first) || server[:ipaddress]
    end

    def fqdn_of(server)
      server[:fqdn]
    end

    # discover_zookeepers asks an Exhibitor (http://host:port) for its
    # ensemble through `svcdisco ensemble`, in Exhibitor's own shape:
    # {'servers' => [hosts], 'port' => port}.
    def discover_zookeepers(exhibitor_url)
      uri = URI(exhibitor_url.to_s)
      runner = svcdisco_runner
      env = runner.env.merge('SVCDISCO_REGISTRY' => "exhibitor://#{uri.host}:#{uri.port || 8080}")
      out = Runner.new(bin: runner.bin, env: env, timeout: runner.timeout).run(['ensemble'])
      IronfanCompat.ensemble_hash(out.strip)
    end

    # zk_connect_str(zookeepers, chroot): exhibitor_discovery's form, with
    # discover_zookeepers' hash (or a list of host:port); with one or no
    # argument, the library's zk_connect_str(chroot).
    def zk_connect_str(zookeepers = nil, chroot = nil)
      return svcdisco_zk_connect_str(zookeepers) unless zookeepers.is_a?(Hash) || zookeepers.is_a?(Array)

      hosts = if zookeepers.is_a?(Hash)
                Array(zookeepers['servers']).map { |s| "#{s}:#{zookeepers['port']}" }
              else
                zookeepers.map(&:to_s)
              end
      chroot.nil? || chroot.to_s.empty? ? hosts.join(',') : "#{hosts.join(',')}/#{chroot.to_s.sub(%r{\A/+}, '')}"
    end

    # announce (silverware): this node provides REALM-SYSTEM-SUBSYSTEM.
    # opts are provide_service's info (:port is required) plus :realm.
    def announce(system, subsystem, opts = {})
      opts = opts.to_h.transform_keys(&:to_sym)
      realm = opts.delete(:realm)
      provide_service(silverware_service(system, subsystem, realm), opts)
    end

    # discover (silverware): the newest provider of REALM-SYSTEM-SUBSYSTEM.
    def discover(system, subsystem, realm = nil)
      provider_for_service(silverware_service(system, subsystem, realm))
    end

    # discover_all (silverware): every provider, oldest first.
    def discover_all(system, subsystem, realm = nil)
      all_providers_for_service(silverware_service(system, subsystem, realm))
    end

    def silverware_service(system, subsystem, realm = nil)
      realm ||= silverware_realm
      [realm, system, subsystem].compact.map(&:to_s).reject(&:empty?).join('-')
    end

    # Server is one provider as ironfan recipes read a Chef node: a Mash
    # (Chef's; a Hash without Chef) answering server[:ipaddress],
    # server[:private_ip], server[:fqdn], server[:cloud][:private_ips],
    # server[:provides_service][service][:port] (and every attribute) and
    # server.name, besides svcdisco's own keys.
    class Server < (defined?(::Mash) ? ::Mash : Hash)
      def self.from(provider)
        server = new
        provider.each { |k, v| server[k] = v }
        ip = provider['address'].to_s.empty? ? provider['host'] : provider['address']
        server['name'] = provider['host']
        server['fqdn'] = provider['host']
        server['ipaddress'] = ip
        server['private_ip'] = ip
        server['cloud'] = { 'private_ips' => [ip] }
        server['provides_service'] = { provider['service'] => service_info(provider) }
        server
      end

      # service_info is what ironfan's provide_service stored for the
      # service: the free-form info (svcdisco attributes) with port, host
      # and a timestamp in ironfan's format (20261122100000Z).
      def self.service_info(provider)
        info = (provider['attributes'] || {}).to_h.dup
        info['port'] = provider['port']
        info['host'] = provider['host']
        info['endpoints'] = provider['endpoints'] if provider['endpoints']
        ts = provider['timestamp']
        info['timestamp'] = Time.parse(ts.to_s).utc.strftime('%Y%m%d%H%M%SZ') if ts
        info
      end

      def name
        self['name']
      end

      def node_name
        self['name']
      end

      def fqdn
        self['fqdn']
      end

      def private_ip
        self['private_ip']
      end
    end

    private

    def silverware_realm
      n = svcdisco_node
      return ENV.fetch('SVCDISCO_REALM', 'default') if n.nil?

      n['svcdisco']['ironfan']['realm'] || n['cluster_name'] || n.chef_environment
    end

    def self.ensemble_hash(connect)
      hosts = connect.split(',').map { |hp| hp.rpartition(':') }
      { 'servers' => hosts.map(&:first), 'port' => Integer(hosts.first&.last || 2181) }
    end
  end
end
