# frozen_string_literal: true

name 'svcdisco_test'
description 'Recipes the svcdisco cookbook tests converge besides the README examples'
version '0.1.0'
license 'All Rights Reserved'
chef_version '>= 16.0'
depends 'svcdisco'
