module example.com/ecommerce/user

go 1.19
