# frozen_string_literal: true

require_relative 'test_helper'

# Chef cannot be installed here, so the recipes are evaluated by a minimal
# stand-in for Chef's DSL that records each resource and its properties.
# This catches what `ruby -wc` cannot (a misspelt attribute, a nil where a
# Hash is expected) and checks the resources the recipes declare; Chef's own
# behaviour is not simulated.
class RecipeTest < Minitest::Test
  include TestHelper

  COOKBOOK = File.expand_path('..', __dir__)

  # Attrs is node['...'] with autovivification, as attribute files need.
  class Attrs < Hash
    def [](key)
      fetch(key.to_s) { store(key.to_s, Attrs.new) }
    end

    def []=(key, value)
      store(key.to_s, value)
    end
  end

  # Resource records one resource declaration.
  class Resource
    attr_reader :type, :name, :props

    def initialize(type, name)
      @type = type
      @name = name
      @props = {}
    end

    def method_missing(prop, *args, &block)
      @props[prop] = block || (args.size == 1 ? args.first : args)
    end

    def respond_to_missing?(*)
      true
    end
  end

  # Recipe evaluates a recipe file, recording resources.
  class Recipe
    include Svcdisco::Discovery
    attr_reader :node, :resources, :included

    def initialize(node)
      @node = node
      @resources = []
      @included = []
    end

    def include_recipe(name)
      @included << name
    end

    def method_missing(type, name = nil, &block)
      r = Resource.new(type, name)
      r.instance_eval(&block) if block
      @resources << r
      r
    end

    def respond_to_missing?(*)
      true
    end

    def find(type, name)
      @resources.find { |r| r.type == type && r.name == name } or raise "no #{type}[#{name}] in #{@resources.map(&:name)}"
    end
  end

  # attrs_from evaluates attributes/default.rb, then applies overrides.
  def attrs_from(overrides)
    holder = Attrs.new
    holder.define_singleton_method(:default) { holder }
    holder.instance_eval(File.read(File.join(COOKBOOK, 'attributes/default.rb')))
    overrides.each { |k, v| holder['svcdisco'][k] = v }
    holder
  end

  def run_recipe(name, overrides = {})
    r = Recipe.new(attrs_from(overrides))
    r.instance_eval(File.read(File.join(COOKBOOK, "recipes/#{name}.rb")), "recipes/#{name}.rb")
    r
  end

  def test_default_recipe
    r = run_recipe('default', 'url' => 'https://example.com/svcdisco', 'checksum' => 'abc')
    bin = r.find(:remote_file, '/usr/local/bin/svcdisco')
    assert_equal ['https://example.com/svcdisco', 'abc', '0755'], bin.props.values_at(:source, :checksum, :mode)
    conf = r.find(:file, '/etc/svcdisco/svcdisco.yaml')
    assert_equal Svcdisco::Config.yaml(r.node['svcdisco']), conf.props[:content]
    assert_equal '/usr/local/bin/svcdisco version --config %{path}', conf.props[:verify]
    assert_match(%r{^registry: zk://127\.0\.0\.1:2181$}, conf.props[:content])
    r.find(:directory, '/etc/svcdisco/services.d')
    unit = r.find(:template, '/etc/systemd/system/svcdisco-agent.service')
    assert_equal({ bin: '/usr/local/bin/svcdisco', config_file: '/etc/svcdisco/svcdisco.yaml',
                   services_dir: '/etc/svcdisco/services.d' }, unit.props[:variables])
    assert_equal %i[enable start], r.find(:service, 'svcdisco-agent').props[:action]
  end

  def test_default_recipe_needs_a_url_or_another_install_method
    e = assert_raises(RuntimeError) { run_recipe('default') }
    assert_match(/set node\['svcdisco'\]\['url'\]/, e.message)
    r = run_recipe('default', 'install_method' => 'package', 'agent' => { 'enabled' => false })
    r.find(:package, 'svcdisco')
    assert_equal :delete, r.find(:file, '/etc/systemd/system/svcdisco-agent.service').props[:action]
  end

  def test_config_file_is_valid_for_exhibitor_attributes
    r = run_recipe('default', 'install_method' => 'none', 'chroot' => 'prod',
                              'exhibitor' => { 'hosts' => ['ex1:8080'], 'backup' => ['zk1:2181'] })
    content = r.find(:file, '/etc/svcdisco/svcdisco.yaml').props[:content]
    assert_match(%r{^registry: exhibitor://ex1:8080/prod\?backup=zk1:2181$}, content)
    Dir.mktmpdir do |dir|
      path = File.join(dir, 'svcdisco.yaml')
      File.write(path, content)
      _, err, code = svcdisco('version', '--config', path)
      # exhibitor:// needs the Exhibitor support; main's binary rejects the scheme.
      assert_equal 0, code, err if TestHelper.feature?('ensemble')
    end
  end

  def test_haproxy_example_recipe
    r = run_recipe('haproxy_example')
    assert_equal ['svcdisco::default'], r.included
    t = r.find(:template, '/etc/haproxy/haproxy.cfg')
    assert_equal({ service: 'web', bind: '*:80', check_path: '/', options: { at_least: 1, where: {} } }, t.props[:variables])
    assert_equal 'haproxy.cfg.erb', t.props[:source]
  end
end
