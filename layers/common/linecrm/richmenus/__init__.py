"""Rich menus as config: menus, images, assignment rules, LINE sync and relinking."""
