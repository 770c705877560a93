# frozen_string_literal: true

# How the svcdisco binary is installed: 'url' (downloaded from url and
# checked against checksum, a SHA-256), 'package' (an OS package named
# svcdisco), or 'none' (already installed at bin by other means).
default['svcdisco']['install_method'] = 'url'
default['svcdisco']['url'] = nil
default['svcdisco']['checksum'] = nil
# Where the binary is (with install_method 'package', the package's path).
default['svcdisco']['bin'] = '/usr/local/bin/svcdisco'

# The registry. registry (a full URL) wins when set; otherwise, when
# exhibitor.hosts is set, exhibitor://HOSTS/CHROOT?backup=BACKUP; otherwise
# zk://zookeeper.hosts/CHROOT. Set exhibitor.backup: it is what svcdisco uses
# when Exhibitor and its cached answer both fail.
# zookeeper.hosts unset means 127.0.0.1:2181. The lists default to nil, not
# to an array: Chef merges default, role and environment arrays by union, so
# a default list would be added to the hosts a role or environment sets.
default['svcdisco']['registry'] = nil
default['svcdisco']['zookeeper']['hosts'] = nil
default['svcdisco']['exhibitor']['hosts'] = nil
default['svcdisco']['exhibitor']['backup'] = nil
default['svcdisco']['chroot'] = nil

# Environment scoping: providers live under ROOT_PREFIX/ENVIRONMENT
# (/svcdisco/production), ENVIRONMENT being node.chef_environment, so that
# production never discovers staging's providers, as recipes used to scope
# their searches with chef_environment:. config.root, when set, is used as it
# is; environment_scope false gives root_prefix alone.
default['svcdisco']['root_prefix'] = '/svcdisco'
default['svcdisco']['environment_scope'] = true

# Every other key of /etc/svcdisco/svcdisco.yaml (svcdisco rejects unknown
# keys; a nil value is left out of the file).
default['svcdisco']['config_file'] = '/etc/svcdisco/svcdisco.yaml'
default['svcdisco']['config']['root'] = nil
default['svcdisco']['config']['session_timeout'] = '10s'
default['svcdisco']['config']['timeout'] = '10s'

# Where svcdisco_provider (and provide_service) writes provider files and the agent reads them.
default['svcdisco']['services_dir'] = '/etc/svcdisco/services.d'
# Seconds the library lets one svcdisco call take (plus any :wait) before
# killing it and raising Svcdisco::TimeoutError.
default['svcdisco']['command_timeout'] = 30
# The default of all_providers_for_service's :stale_ok: while the registry
# cannot be reached, discovery answers from svcdisco's answer cache when the
# cached answer is at most this old ("2h", or seconds), with a warning in
# the Chef log. nil: never (the call raises UnreachableError).
default['svcdisco']['stale_ok'] = nil
# Run `svcdisco agent` as a systemd service (the boot hook).
default['svcdisco']['agent']['enabled'] = true
# A unix socket (e.g. '/run/svcdisco/agent.sock') on which the agent serves
# its node cache; when set, every discovery call of a converge asks the agent
# (no ZooKeeper session per call) and falls back to the registry when the
# agent does not answer. socket_group may read and write it (mode 0660).
default['svcdisco']['agent']['socket'] = nil
default['svcdisco']['agent']['socket_group'] = nil

# recipe[svcdisco::haproxy_example]
default['svcdisco']['haproxy']['service'] = 'web'
default['svcdisco']['haproxy']['bind'] = '*:80'
default['svcdisco']['haproxy']['check_path'] = '/'
# Fewer providers than this fails the template (the old file is kept).
default['svcdisco']['haproxy']['min_providers'] = 1
default['svcdisco']['haproxy']['where'] = {}
default['svcdisco']['haproxy']['config_file'] = '/etc/haproxy/haproxy.cfg'

# recipe[svcdisco::ironfan_compat]: silverware's announce/discover use
# services named REALM-SYSTEM-SUBSYSTEM; the realm defaults to this, else
# node['cluster_name'], else the Chef environment.
default['svcdisco']['ironfan']['realm'] = nil
