# frozen_string_literal: true

# svcdisco cookbook library: ironfan-style service discovery
# (all_providers_for_service, provider_for_service, provide_service) and
# zk_connect_str, answered by the svcdisco binary instead of Chef search.
#
# It loads in plain Ruby (the tests run it without Chef) and, under Chef,
# is mixed into recipes, resources, providers and templates.
require_relative 'svcdisco/discovery'
require_relative 'svcdisco/leader'

if defined?(Chef)
  Chef::Recipe.include(Svcdisco::Discovery) if defined?(Chef::Recipe)
  Chef::Resource.include(Svcdisco::Discovery) if defined?(Chef::Resource)
  Chef::Provider.include(Svcdisco::Discovery) if defined?(Chef::Provider)
  if defined?(Chef::Mixin::Template::TemplateContext)
    Chef::Mixin::Template::TemplateContext.include(Svcdisco::Discovery)
  end
end
