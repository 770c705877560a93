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
default['svcdisco']['registry'] = nil
default['svcdisco']['zookeeper']['hosts'] = ['127.0.0.1:2181']
default['svcdisco']['exhibitor']['hosts'] = []
default['svcdisco']['exhibitor']['backup'] = []
default['svcdisco']['chroot'] = nil

# Every other key of /etc/svcdisco/svcdisco.yaml (svcdisco rejects unknown
# keys; a nil value is left out of the file).
default['svcdisco']['config_file'] = '/etc/svcdisco/svcdisco.yaml'
default['svcdisco']['config']['root'] = '/svcdisco'
default['svcdisco']['config']['session_timeout'] = '10s'
default['svcdisco']['config']['timeout'] = '10s'

# Where provide_service writes provider files and the agent reads them.
default['svcdisco']['services_dir'] = '/etc/svcdisco/services.d'
# Seconds the library lets one svcdisco call take (plus any :wait) before
# killing it and raising Svcdisco::TimeoutError.
default['svcdisco']['command_timeout'] = 30
# Run `svcdisco agent` as a systemd service (the boot hook).
default['svcdisco']['agent']['enabled'] = true

# recipe[svcdisco::haproxy_example]
default['svcdisco']['haproxy']['service'] = 'web'
default['svcdisco']['haproxy']['bind'] = '*:80'
default['svcdisco']['haproxy']['check_path'] = '/'
# Fewer providers than this fails the template (the old file is kept).
default['svcdisco']['haproxy']['min_providers'] = 1
default['svcdisco']['haproxy']['where'] = {}
default['svcdisco']['haproxy']['config_file'] = '/etc/haproxy/haproxy.cfg'
