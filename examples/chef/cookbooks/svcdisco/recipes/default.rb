# frozen_string_literal: true

#
# Cookbook:: svcdisco
# Recipe:: default
#
# Installs the svcdisco binary, writes /etc/svcdisco/svcdisco.yaml from
# node['svcdisco'], and runs `svcdisco agent` under systemd as the node's
# boot hook (it registers whatever provide_service declared).

sd = node['svcdisco']

case sd['install_method']
when 'url'
  raise "svcdisco: set node['svcdisco']['url'] (and checksum), or install_method 'package' or 'none'" if sd['url'].to_s.empty?

  remote_file sd['bin'] do
    source sd['url']
    checksum sd['checksum'] unless sd['checksum'].to_s.empty?
    mode '0755'
    notifies :restart, 'service[svcdisco-agent]', :delayed if sd['agent']['enabled']
  end
when 'package'
  package 'svcdisco' do
    notifies :restart, 'service[svcdisco-agent]', :delayed if sd['agent']['enabled']
  end
when 'none'
  nil
else
  raise "svcdisco: unknown install_method #{sd['install_method'].inspect}: want url, package or none"
end

directory ::File.dirname(sd['config_file']) do
  mode '0755'
end

directory sd['services_dir'] do
  mode '0755'
  recursive true
end

# svcdisco rejects unknown keys; `svcdisco version --config` checks the file
# without contacting the registry, so a bad attribute never replaces a good
# file.
file sd['config_file'] do
  content Svcdisco::Config.yaml(sd)
  mode '0644'
  verify "#{sd['bin']} version --config %{path}"
  notifies :restart, 'service[svcdisco-agent]', :delayed if sd['agent']['enabled']
end

unit = '/etc/systemd/system/svcdisco-agent.service'

execute 'svcdisco systemctl daemon-reload' do
  command 'systemctl daemon-reload'
  action :nothing
end

if sd['agent']['enabled']
  template unit do
    source 'svcdisco-agent.service.erb'
    mode '0644'
    variables(bin: sd['bin'], config_file: sd['config_file'], services_dir: sd['services_dir'])
    notifies :run, 'execute[svcdisco systemctl daemon-reload]', :immediately
    notifies :restart, 'service[svcdisco-agent]', :delayed
  end

  # reload (SIGHUP) makes the agent reconcile services.d at once; it also
  # watches the directory by itself.
  service 'svcdisco-agent' do
    supports restart: true, reload: true, status: true
    action %i[enable start]
  end
else
  # Stopping the agent deregisters this node's providers.
  service 'svcdisco-agent' do
    action %i[stop disable]
    only_if { ::File.exist?(unit) }
  end

  file unit do
    action :delete
    notifies :run, 'execute[svcdisco systemctl daemon-reload]', :immediately
  end
end
