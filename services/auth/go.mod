module example.com/ecommerce/auth

go 1.19
