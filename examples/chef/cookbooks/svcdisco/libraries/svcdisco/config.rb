# frozen_string_literal: true

require 'yaml'

module Svcdisco
  # Config turns the cookbook's node['svcdisco'] attributes into the registry
  # URL and the contents of /etc/svcdisco/svcdisco.yaml. It is plain Ruby so
  # the tests can feed its output to the real binary.
  module Config
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

    # settings: every svcdisco.yaml key, registry first, the rest sorted;
    # nil values are left out (svcdisco rejects unknown keys, so only what
    # is set is written).
    def settings(attrs)
      out = { 'registry' => registry_url(attrs) }
      extra = attrs['config'] || {}
      extra.keys.map(&:to_s).sort.each do |key|
        value = extra[key]
        out[key] = value.is_a?(Symbol) ? value.to_s : value unless value.nil?
      end
      out
    end

    # yaml is the file the default recipe writes.
    def yaml(attrs)
      "# Written by Chef (cookbook svcdisco); local changes are overwritten.\n" +
        settings(attrs).to_yaml
    end

    # env is the same settings as SVCDISCO_* variables, so that library calls
    # made while compiling a recipe (before the config file is written on a
    # node's first run) already talk to the right registry.
    def env(attrs)
      settings(attrs).each_with_object({}) do |(key, value), env|
        env["SVCDISCO_#{key.upcase}"] = value.to_s
      end
    end

    def zk_url(hosts, chroot)
      raise ArgumentError, 'svcdisco: set registry, zookeeper.hosts or exhibitor.hosts' if hosts.empty?

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
