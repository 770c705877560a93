# frozen_string_literal: true

require 'yaml'

module Svcdisco
  # Config turns the cookbook's node['svcdisco'] attributes into the registry
  # URL and the contents of /etc/svcdisco/svcdisco.yaml. It is plain Ruby so
  # the tests can feed its output to the real binary.
  module Config
    # The ZooKeeper used when neither registry, exhibitor.hosts nor
    # zookeeper.hosts is set. It is not an attribute default: Chef merges
    # the arrays of default, role-default and environment-default attributes
    # by union, so a default array would be added to every role's hosts.
    DEFAULT_ZOOKEEPER = ['127.0.0.1:2181'].freeze
    DEFAULT_ROOT_PREFIX = '/svcdisco'
    ENVIRONMENT_RE = /\A[A-Za-z0-9_-]+\z/.freeze

    module_function

    # registry_url: attrs['registry'] when set; else an exhibitor:// URL when
    # Exhibitor hosts are given (with ?backup= ZooKeeper hosts, used when
    # Exhibitor and svcdisco's cache both fail); else a zk:// URL.
    def registry_url(attrs)
      url = attrs['registry']
      return url.to_s unless url.nil? || url.to_s.empty?

      chroot = normalize_chroot(attrs['chroot'])
      exhibitor = list(dig(attrs, 'exhibitor', 'hosts'))
      return zk_url(list(dig(attrs, 'zookeeper', 'hosts')), chroot) if exhibitor.empty?

      backup = list(dig(attrs, 'exhibitor', 'backup'))
      url = "exhibitor://#{exhibitor.join(',')}#{chroot}"
      backup.empty? ? url : "#{url}?backup=#{backup.join(',')}"
    end

    # root is the registry root: config.root when set; else root_prefix
    # followed by the Chef environment (/svcdisco/production), so that nodes
    # of one environment never discover another's providers; root_prefix
    # alone when environment_scope is false or there is no environment.
    def root(attrs, environment = nil)
      explicit = dig(attrs, 'config', 'root')
      return explicit.to_s unless explicit.nil? || explicit.to_s.empty?

      prefix = (attrs['root_prefix'] || DEFAULT_ROOT_PREFIX).to_s.sub(%r{/+\z}, '')
      prefix = DEFAULT_ROOT_PREFIX if prefix.empty?
      return prefix if attrs['environment_scope'] == false || environment.nil? || environment.to_s.empty?
      raise ArgumentError, "svcdisco: environment #{environment.inspect} cannot name a registry root" unless ENVIRONMENT_RE.match?(environment.to_s)

      "#{prefix}/#{environment}"
    end

    # settings: every svcdisco.yaml key, registry first, the rest sorted;
    # nil values are left out (svcdisco rejects unknown keys, so only what
    # is set is written). Values are plain Ruby (Hash, Array, String, ...):
    # node attributes are Chef's immutable collections, which to_yaml would
    # dump with Ruby tags and, through their back-references, the whole node.
    def settings(attrs, environment = nil)
      out = { 'registry' => registry_url(attrs) }
      extra = plain(attrs['config'] || {})
      extra['root'] = root(attrs, environment)
      agent_socket(attrs).each { |key, value| extra[key] = value if extra[key].nil? }
      extra.keys.sort.each do |key|
        out[key] = extra[key] unless extra[key].nil?
      end
      out
    end

    # agent_socket: with agent.socket set, the agent serves its node cache
    # there (serve, serve_group) and every discovery call asks it
    # (agent_socket), so a converge costs the ensemble no session.
    def agent_socket(attrs)
      socket = dig(attrs, 'agent', 'socket').to_s
      return {} if socket.empty?

      group = dig(attrs, 'agent', 'socket_group').to_s
      out = { 'agent_socket' => socket, 'serve' => socket }
      out['serve_group'] = group unless group.empty?
      out
    end

    # Keys only the agent reads: kept out of the environment of library
    # calls.
    AGENT_ONLY = %w[serve serve_group serve_idle].freeze

    # yaml is the file the default recipe writes.
    def yaml(attrs, environment = nil)
      "# Written by Chef (cookbook svcdisco); local changes are overwritten.\n" +
        settings(attrs, environment).to_yaml
    end

    # env is the scalar settings as SVCDISCO_* variables, so that library
    # calls made while compiling a recipe (before the config file is written
    # on a node's first run) already talk to the right registry. Lists and
    # maps (templates) exist only in the config file.
    def env(attrs, environment = nil)
      settings(attrs, environment).each_with_object({}) do |(key, value), env|
        next if AGENT_ONLY.include?(key)
        next unless [String, Integer, Float, TrueClass, FalseClass].any? { |c| value.is_a?(c) }

        env["SVCDISCO_#{key.upcase}"] = value.to_s
      end
    end

    # plain deep-copies node attributes into Hash, Array and scalars
    # (string keys, symbols as strings).
    def plain(value)
      case value
      when Hash then value.each_with_object({}) { |(k, v), out| out[k.to_s] = plain(v) }
      when Array then value.map { |v| plain(v) }
      when Symbol then value.to_s
      else value
      end
    end

    def zk_url(hosts, chroot)
      hosts = DEFAULT_ZOOKEEPER if hosts.empty?
      "zk://#{hosts.join(',')}#{chroot}"
    end

    def normalize_chroot(chroot)
      return '' if chroot.nil? || chroot.to_s.empty? || chroot.to_s == '/'

      "/#{chroot.to_s.sub(%r{\A/+}, '')}"
    end

    def list(value)
      Array(value).map(&:to_s).reject(&:empty?)
    end

    def dig(attrs, *keys)
      keys.reduce(attrs) { |h, k| h.respond_to?(:[]) ? h[k] : nil }
    end
  end
end
